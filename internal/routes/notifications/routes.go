package notifications

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/notifications"
)

var tags = []string{"Notifications"}

// Register adds the four notification routes to api.
func Register(api huma.API, svc notifications.Service) {
	h := handlers{svc}
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden}
	httpapi.Register(api, huma.Operation{OperationID: "getUnreadCount", Method: http.MethodGet,
		Path: "/api/notifications/unread-count", Summary: "Number of unread finished runs", Tags: tags, Errors: errs}, h.count)
	httpapi.Register(api, huma.Operation{OperationID: "getUnreadCountsByAgent", Method: http.MethodGet,
		Path: "/api/notifications/unread-counts-by-agent", Summary: "Unread finished runs per agent", Tags: tags, Errors: errs}, h.byAgent)
	httpapi.Register(api, huma.Operation{OperationID: "markRunRead", Method: http.MethodPut,
		Path: "/api/notifications/read/{runId}", Summary: "Mark a run read", Tags: tags,
		Errors: append(errs, http.StatusNotFound)}, h.read)
	httpapi.Register(api, huma.Operation{OperationID: "markAllRunsRead", Method: http.MethodPut,
		Path: "/api/notifications/read-all", Summary: "Mark every run read", Tags: tags, Errors: errs}, h.readAll)
}

type handlers struct{ svc notifications.Service }

func actorOf(ctx context.Context) notifications.Actor {
	p, _ := auth.PrincipalFrom(ctx)
	return notifications.Actor{AppID: p.ApplicationID, UserID: p.UserID, EndUserID: p.EndUserID}
}

type countOutput struct {
	Body struct {
		Count int `json:"count"`
	}
}

func (h handlers) count(ctx context.Context, _ *struct{}) (*countOutput, error) {
	n, err := h.svc.UnreadCount(ctx, actorOf(ctx))
	if err != nil {
		return nil, err
	}
	out := &countOutput{}
	out.Body.Count = n
	return out, nil
}

type countsOutput struct {
	Body struct {
		Counts map[string]int `json:"counts"`
	}
}

func (h handlers) byAgent(ctx context.Context, _ *struct{}) (*countsOutput, error) {
	counts, err := h.svc.UnreadByAgent(ctx, actorOf(ctx))
	if err != nil {
		return nil, err
	}
	out := &countsOutput{}
	out.Body.Counts = counts
	return out, nil
}

type readInput struct {
	RunID string `path:"runId"`
}

type okOutput struct {
	Body struct {
		OK bool `json:"ok"`
	}
}

func (h handlers) read(ctx context.Context, in *readInput) (*okOutput, error) {
	found, err := h.svc.MarkRead(ctx, actorOf(ctx), in.RunID)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, httpapi.NotFound("Run not found")
	}
	out := &okOutput{}
	out.Body.OK = true
	return out, nil
}

type updatedOutput struct {
	Body struct {
		Updated int64 `json:"updated"`
	}
}

func (h handlers) readAll(ctx context.Context, _ *struct{}) (*updatedOutput, error) {
	n, err := h.svc.MarkAllRead(ctx, actorOf(ctx))
	if err != nil {
		return nil, err
	}
	out := &updatedOutput{}
	out.Body.Updated = n
	return out, nil
}
