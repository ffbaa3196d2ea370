package cli

import (
	"context"
	"errors"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/oidc"
)

type orgSessionsInput struct {
	OrgID string `path:"orgId" doc:"Organization id"`
}

type orgSessionsOutput struct {
	Body httpapi.List[oidc.CLISession]
}

type revokeOrgSessionInput struct {
	OrgID     string `path:"orgId" doc:"Organization id"`
	FamilyID  string `path:"familyId" doc:"crf_<uuid> of the CLI session"`
	UserAgent string `header:"User-Agent"`
}

// authorize checks perm for the caller in orgID: the role matrix of the caller's membership (the /api/orgs/*
// paths skip the pipeline's org context, so the role is read here). API keys never hold cli-sessions:*.
func (rt *routes) authorize(ctx context.Context, orgID string, perm auth.Permission) error {
	p, _ := auth.PrincipalFrom(ctx)
	if p == nil {
		return httpapi.Unauthorized("Invalid or missing session")
	}
	denied := httpapi.Forbidden("Insufficient permissions: " + string(perm) + " required")
	if p.IsAPIKey() {
		if p.OrgID != orgID {
			return httpapi.Forbidden("This API key is not valid for this organization")
		}
		if !p.Can(perm) {
			return denied
		}
		return nil
	}
	role := p.Role
	if p.OrgID != orgID || role == "" {
		var err error
		if role, err = rt.Members.MemberRole(ctx, orgID, p.UserID); err != nil {
			return err
		}
	}
	if role == "" {
		return httpapi.Forbidden("You are not a member of this organization")
	}
	if !auth.RolePermissions(role).Has(perm) {
		return denied
	}
	return nil
}

func (rt *routes) listOrgSessions(ctx context.Context, in *orgSessionsInput) (*orgSessionsOutput, error) {
	if err := rt.authorize(ctx, in.OrgID, auth.Permission("cli-sessions:read")); err != nil {
		return nil, err
	}
	list, err := rt.OIDC.ListOrgSessions(ctx, in.OrgID)
	if err != nil {
		return nil, err
	}
	return &orgSessionsOutput{Body: httpapi.NewList(list, false)}, nil
}

func (rt *routes) revokeOrgSession(ctx context.Context, in *revokeOrgSessionInput) (*struct{}, error) {
	if err := rt.authorize(ctx, in.OrgID, auth.Permission("cli-sessions:delete")); err != nil {
		return nil, err
	}
	p, _ := auth.PrincipalFrom(ctx)
	err := rt.OIDC.RevokeOrgSession(ctx, in.OrgID, in.FamilyID, oidc.Actor{UserID: p.UserID,
		IP: httpapi.ClientIPFrom(ctx), UserAgent: in.UserAgent, RequestID: httpapi.RequestIDFrom(ctx)})
	if errors.Is(err, oidc.ErrSessionNotFound) {
		return nil, httpapi.NotFound("CLI session not found")
	}
	if err != nil {
		return nil, err
	}
	return nil, nil
}
