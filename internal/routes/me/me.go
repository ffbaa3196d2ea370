package me

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/tenancy"
)

var tags = []string{"Profile"}

// UserProfile is the body of GET /api/profile (API.md §5 item 4).
type UserProfile struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Language    string `json:"language" enum:"fr,en"`
	Email       string `json:"email"`
	Name        string `json:"name"`
}

// ProfileDisplayName is one entry of POST /api/profiles/batch.
type ProfileDisplayName struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

type profileOutput struct{ Body UserProfile }

type updateProfileInput struct {
	Body struct {
		Language    *string `json:"language,omitempty" enum:"fr,en"`
		DisplayName *string `json:"displayName,omitempty" minLength:"1" maxLength:"100"`
	}
}

type updateProfileOutput struct {
	Body struct {
		OK          bool   `json:"ok"`
		Language    string `json:"language" enum:"fr,en"`
		DisplayName string `json:"displayName"`
	}
}

type batchInput struct {
	Body struct {
		IDs []string `json:"ids" maxItems:"100" doc:"User ids (at most 100)"`
	}
}

type batchOutput struct {
	Body httpapi.List[ProfileDisplayName]
}

type appProfileBody struct {
	ConnectionProfileID *string `json:"connectionProfileId" doc:"The pinned connection profile, or null"`
}

type appProfileOutput struct{ Body appProfileBody }

type setAppProfileInput struct {
	Body struct {
		ConnectionProfileID string `json:"connectionProfileId" doc:"One of your own connection profiles or a profile of this application"`
	}
}

type welcomeInput struct {
	Body *struct {
		DisplayName *string `json:"displayName,omitempty" maxLength:"100"`
	}
}

type okOutput struct {
	Body struct {
		OK bool `json:"ok"`
	}
}

// Deps are what the routes of this package need.
type Deps struct {
	Profiles auth.Profiles
	Pins     tenancy.AppProfilePins
}

type handlers struct{ Deps }

// Register adds the profile, profiles/batch, me/application-profile and welcome routes to api.
func Register(api huma.API, d Deps) {
	h := handlers{d}
	errs := []int{http.StatusUnauthorized, http.StatusForbidden}
	httpapi.Register(api, huma.Operation{
		OperationID: "getProfile", Method: http.MethodGet, Path: "/api/profile",
		Summary: "Get your profile", Tags: tags, Description: "Not available to API keys.",
		Errors: errs, Middlewares: huma.Middlewares{httpapi.DenyAPIKey},
	}, h.getProfile)
	httpapi.Register(api, huma.Operation{
		OperationID: "updateProfile", Method: http.MethodPatch, Path: "/api/profile",
		Summary: "Update your profile", Tags: tags, Description: "Changes the language and/or display name. Not available to API keys.",
		Errors: append(errs, http.StatusBadRequest), Middlewares: huma.Middlewares{httpapi.DenyAPIKey},
	}, h.updateProfile)
	httpapi.Register(api, huma.Operation{
		OperationID: "getProfilesBatch", Method: http.MethodPost, Path: "/api/profiles/batch",
		Summary: "Display names of organization members", Tags: tags,
		Description: "Returns {id, displayName} for those of the given user ids who are members of the current organization.",
		Errors:      append(errs, http.StatusBadRequest),
	}, h.batch)
	httpapi.Register(api, huma.Operation{
		OperationID: "getApplicationProfile", Method: http.MethodGet, Path: "/api/me/application-profile",
		Summary: "Get your pinned connection profile", Tags: tags,
		Description: "The connection profile you pinned as default for the current application (null when none).",
		Errors:      append(errs, http.StatusBadRequest, http.StatusNotFound),
	}, h.getPin)
	httpapi.Register(api, huma.Operation{
		OperationID: "setApplicationProfile", Method: http.MethodPut, Path: "/api/me/application-profile",
		Summary: "Pin your default connection profile", Tags: tags,
		Description: "The profile must be one of your own connection profiles or a profile of the current application (else 404).",
		Errors:      append(errs, http.StatusBadRequest, http.StatusNotFound),
	}, h.setPin)
	httpapi.Register(api, huma.Operation{
		OperationID: "deleteApplicationProfile", Method: http.MethodDelete, Path: "/api/me/application-profile",
		Summary: "Unpin your default connection profile", Tags: tags, DefaultStatus: http.StatusNoContent,
		Errors: append(errs, http.StatusBadRequest, http.StatusNotFound),
	}, h.clearPin)
	httpapi.Register(api, huma.Operation{
		OperationID: "welcomeSetup", Method: http.MethodPost, Path: "/api/welcome/setup",
		Summary: "Complete the first-login setup", Tags: tags,
		Description: "Ensures your profile exists and sets the display name when given. Not available to API keys.",
		Errors:      append(errs, http.StatusBadRequest), Middlewares: huma.Middlewares{httpapi.DenyAPIKey},
	}, h.welcome)
}

func (h handlers) getProfile(ctx context.Context, _ *struct{}) (*profileOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	prof, err := h.Profiles.Get(ctx, p.UserID)
	if err != nil {
		return nil, profileProblem(err)
	}
	return &profileOutput{Body: UserProfile{ID: prof.ID, DisplayName: prof.DisplayName, Language: prof.Language,
		Email: prof.Email, Name: prof.Name}}, nil
}

func (h handlers) updateProfile(ctx context.Context, in *updateProfileInput) (*updateProfileOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	prof, err := h.Profiles.Update(ctx, p.UserID, auth.ProfileUpdate{Language: in.Body.Language, DisplayName: in.Body.DisplayName})
	if err != nil {
		return nil, profileProblem(err)
	}
	out := &updateProfileOutput{}
	out.Body.OK, out.Body.Language, out.Body.DisplayName = true, prof.Language, prof.DisplayName
	return out, nil
}

func (h handlers) batch(ctx context.Context, in *batchInput) (*batchOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	names, err := h.Profiles.DisplayNames(ctx, p.OrgID, in.Body.IDs)
	if err != nil {
		return nil, err
	}
	items := make([]ProfileDisplayName, 0, len(names))
	for _, n := range names {
		items = append(items, ProfileDisplayName{ID: n.ID, DisplayName: n.DisplayName})
	}
	return &batchOutput{Body: httpapi.NewList(items, false)}, nil
}

// pinOwner is the user whose pin the caller reads or writes; a caller acting as an end-user has none
// (end-users use their own Default profile).
func pinOwner(p *auth.Principal) (string, error) {
	if p.EndUserID != "" {
		return "", httpapi.Forbidden("Not available while acting as an end-user (Appstrate-User)")
	}
	return p.UserID, nil
}

func (h handlers) getPin(ctx context.Context, _ *struct{}) (*appProfileOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	user, err := pinOwner(p)
	if err != nil {
		return nil, err
	}
	id, err := h.Pins.Get(ctx, user, p.ApplicationID)
	if err != nil {
		return nil, err
	}
	out := &appProfileOutput{}
	if id != "" {
		out.Body.ConnectionProfileID = &id
	}
	return out, nil
}

func (h handlers) setPin(ctx context.Context, in *setAppProfileInput) (*appProfileOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	user, err := pinOwner(p)
	if err != nil {
		return nil, err
	}
	id := in.Body.ConnectionProfileID
	err = h.Pins.Set(ctx, user, p.ApplicationID, id)
	if errors.Is(err, tenancy.ErrConnectionProfileNotFound) {
		return nil, httpapi.NotFound("Connection profile not found")
	}
	if err != nil {
		return nil, err
	}
	return &appProfileOutput{Body: appProfileBody{ConnectionProfileID: &id}}, nil
}

func (h handlers) clearPin(ctx context.Context, _ *struct{}) (*struct{}, error) {
	p, _ := auth.PrincipalFrom(ctx)
	user, err := pinOwner(p)
	if err != nil {
		return nil, err
	}
	return nil, h.Pins.Clear(ctx, user, p.ApplicationID)
}

func (h handlers) welcome(ctx context.Context, in *welcomeInput) (*okOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	var name *string
	if in.Body != nil {
		name = in.Body.DisplayName
	}
	if err := h.Profiles.CompleteWelcome(ctx, p.UserID, name); err != nil {
		return nil, profileProblem(err)
	}
	out := &okOutput{}
	out.Body.OK = true
	return out, nil
}

func profileProblem(err error) error {
	if errors.Is(err, auth.ErrProfileNotFound) {
		return httpapi.NotFound("User not found")
	}
	return err
}
