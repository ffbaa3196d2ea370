package cli

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/oidc"
)

// betterAuthError is a Better Auth error body: these routes are served by the auth module upstream.
type betterAuthError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type sessionList struct {
	Object  string            `json:"object" enum:"list"`
	Data    []oidc.CLISession `json:"data"`
	HasMore bool              `json:"hasMore"`
}

type revokeSessionBody struct {
	FamilyID string `json:"familyId" doc:"crf_<uuid> of the session to revoke"`
}

type revokeSessionResponse struct {
	Revoked bool `json:"revoked" doc:"false when the user had no live session with this id"`
}

type revokeAllResponse struct {
	RevokedCount int `json:"revokedCount"`
}

// sessionUser returns the signed-in user of a cookie (or bearer session token) request; nil after writing
// the Better Auth error.
func (rt *routes) sessionUser(w http.ResponseWriter, r *http.Request) *auth.User {
	if r.Method != http.MethodGet && r.Header.Get("Cookie") != "" {
		origin := r.Header.Get("Origin")
		if origin == "" || origin == "null" {
			origin = r.Header.Get("Referer")
		}
		if origin == "" {
			writeBA(w, http.StatusForbidden, betterAuthError{"MISSING_OR_NULL_ORIGIN", "Missing or null Origin"})
			return nil
		}
		if !rt.Accounts.IsTrustedOrigin(auth.OriginOf(origin)) {
			writeBA(w, http.StatusForbidden, betterAuthError{"INVALID_ORIGIN", "Invalid origin"})
			return nil
		}
	}
	s, u, _, err := rt.Accounts.SessionFromRequest(r, true)
	if err != nil {
		rt.Logger.Error("cli: session lookup", "requestId", httpapi.RequestIDFrom(r.Context()), "error", err)
		writeBA(w, http.StatusInternalServerError, betterAuthError{"INTERNAL_SERVER_ERROR", "Internal Server Error"})
		return nil
	}
	if s == nil {
		writeBA(w, http.StatusUnauthorized, betterAuthError{"UNAUTHORIZED", "Unauthorized"})
		return nil
	}
	return u
}

// listSessions is GET /api/auth/cli/sessions.
func (rt *routes) listSessions(w http.ResponseWriter, r *http.Request) {
	u := rt.sessionUser(w, r)
	if u == nil {
		return
	}
	list, err := rt.OIDC.ListSessions(r.Context(), u.ID)
	if err != nil {
		rt.internal(w, r, err)
		return
	}
	writeBA(w, http.StatusOK, sessionList{Object: "list", Data: list, HasMore: false})
}

// revokeSession is POST /api/auth/cli/sessions/revoke {familyId}.
func (rt *routes) revokeSession(w http.ResponseWriter, r *http.Request) {
	u := rt.sessionUser(w, r)
	if u == nil {
		return
	}
	params, err := readParams(r)
	if err != nil || params["familyId"] == "" {
		writeBA(w, http.StatusBadRequest, betterAuthError{"VALIDATION_ERROR", "[body.familyId] expected a non-empty string"})
		return
	}
	ok, err := rt.OIDC.RevokeSession(r.Context(), u.ID, params["familyId"])
	if err != nil {
		rt.internal(w, r, err)
		return
	}
	writeBA(w, http.StatusOK, revokeSessionResponse{Revoked: ok})
}

// revokeAllSessions is POST /api/auth/cli/sessions/revoke-all.
func (rt *routes) revokeAllSessions(w http.ResponseWriter, r *http.Request) {
	u := rt.sessionUser(w, r)
	if u == nil {
		return
	}
	n, err := rt.OIDC.RevokeAllSessions(r.Context(), u.ID)
	if err != nil {
		rt.internal(w, r, err)
		return
	}
	writeBA(w, http.StatusOK, revokeAllResponse{RevokedCount: n})
}

func (rt *routes) internal(w http.ResponseWriter, r *http.Request, err error) {
	rt.Logger.Error("cli: session route failed", "path", r.URL.Path, "requestId", httpapi.RequestIDFrom(r.Context()), "error", err)
	writeBA(w, http.StatusInternalServerError, betterAuthError{"INTERNAL_SERVER_ERROR", "Internal Server Error"})
}

func writeBA(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
