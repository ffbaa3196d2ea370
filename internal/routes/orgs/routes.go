package orgs

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/tenancy"
)

const tag = "Organizations"

// Register adds the organization routes.
func Register(api huma.API, svc *tenancy.Orgs) {
	h := handlers{svc: svc}
	mw := huma.Middlewares{captureUserAgent}
	op := func(id, method, path, summary, desc string, errs ...int) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc,
			Tags: []string{tag}, Errors: append([]int{http.StatusUnauthorized}, errs...), Middlewares: mw}
	}

	httpapi.Register(api, op("listOrgs", http.MethodGet, "/api/orgs", "List organizations",
		"The caller's organizations with their role. An API key sees only its own organization."), h.list)
	me := op("listMyOrgs", http.MethodGet, "/api/me/orgs", "List my organizations",
		"Same as GET /api/orgs; an API key impersonating an end-user (Appstrate-User) sees its organization with role end_user.")
	me.Tags = []string{"Profile"}
	httpapi.Register(api, me, h.listMine)

	create := op("createOrg", http.MethodPost, "/api/orgs", "Create an organization",
		"Creates the organization, the caller's owner membership, the default application and the starter agent. "+
			"Not available to API keys; refused when AUTH_DISABLE_ORG_CREATION is set unless the caller is a platform admin.",
		http.StatusBadRequest, http.StatusForbidden)
	create.DefaultStatus = http.StatusCreated
	create.Middlewares = append(huma.Middlewares{httpapi.DenyAPIKey}, mw...)
	httpapi.Register(api, create, h.create)

	httpapi.Register(api, op("getOrg", http.MethodGet, "/api/orgs/{orgId}", "Get an organization",
		"The organization with its members and pending invitations. Members only.", http.StatusForbidden, http.StatusNotFound), h.get)
	httpapi.Register(api, op("updateOrg", http.MethodPut, "/api/orgs/{orgId}", "Update an organization",
		"Renames the organization or changes its slug. Owner only.", http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound), h.update)
	httpapi.Register(api, op("deleteOrg", http.MethodDelete, "/api/orgs/{orgId}", "Delete an organization",
		"Deletes the organization and everything it owns. Owner only.", http.StatusForbidden, http.StatusNotFound), h.delete)

	add := op("addOrgMember", http.MethodPost, "/api/orgs/{orgId}/members", "Add or invite a member",
		"Owner or admin. An existing user is added directly (or invited by email when SMTP is configured); an unknown "+
			"email gets an invitation whose token is returned. An existing member is a 409 conflict.",
		http.StatusBadRequest, http.StatusForbidden, http.StatusConflict)
	add.DefaultStatus = http.StatusCreated
	httpapi.Register(api, add, h.addMember)
	httpapi.Register(api, op("updateOrgMember", http.MethodPut, "/api/orgs/{orgId}/members/{userId}", "Change a member's role",
		"Owner only; not their own role; the role must be admin, member or viewer.",
		http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound), h.changeRole)
	httpapi.Register(api, op("removeOrgMember", http.MethodDelete, "/api/orgs/{orgId}/members/{userId}", "Remove a member",
		"Owner or admin; the owner cannot be removed. Any other member may remove themselves (leave).",
		http.StatusForbidden, http.StatusNotFound), h.removeMember)

	httpapi.Register(api, op("updateOrgInvitation", http.MethodPut, "/api/orgs/{orgId}/invitations/{invitationId}",
		"Change an invitation's role", "Owner only; pending invitations only.",
		http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusGone), h.changeInvitationRole)
	httpapi.Register(api, op("cancelOrgInvitation", http.MethodDelete, "/api/orgs/{orgId}/invitations/{invitationId}",
		"Cancel an invitation", "Owner or admin.", http.StatusForbidden, http.StatusNotFound, http.StatusGone), h.cancelInvitation)

	httpapi.Register(api, op("getOrgSettings", http.MethodGet, "/api/orgs/{orgId}/settings", "Get organization settings",
		"Members only (upstream does not check membership here; this server does).", http.StatusForbidden, http.StatusNotFound), h.settings)
	httpapi.Register(api, op("updateOrgSettings", http.MethodPut, "/api/orgs/{orgId}/settings", "Update organization settings",
		"Owner or admin. Partial update; returns the settings.", http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound), h.updateSettings)
}

type handlers struct{ svc *tenancy.Orgs }

// --- organizations

// OrgParams are the path parameters of /api/orgs/{orgId} routes.
type OrgParams struct {
	OrgID string `path:"orgId" doc:"Organization id"`
}

type orgListOutput struct {
	Body httpapi.List[tenancy.Org]
}

func (h handlers) list(ctx context.Context, _ *struct{}) (*orgListOutput, error) {
	orgs, err := h.svc.List(ctx, callerFrom(ctx), false)
	if err != nil {
		return nil, problem(err)
	}
	return &orgListOutput{Body: httpapi.NewList(orgs, false)}, nil
}

func (h handlers) listMine(ctx context.Context, _ *struct{}) (*orgListOutput, error) {
	orgs, err := h.svc.List(ctx, callerFrom(ctx), true)
	if err != nil {
		return nil, problem(err)
	}
	return &orgListOutput{Body: httpapi.NewList(orgs, false)}, nil
}

type createOrgInput struct {
	Body struct {
		Name string `json:"name" minLength:"1" maxLength:"100"`
		Slug string `json:"slug,omitempty" minLength:"1" maxLength:"50" pattern:"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$" doc:"Defaults to the slugified name"`
	}
}

type orgOutput struct {
	Body *tenancy.Org
}

func (h handlers) create(ctx context.Context, in *createOrgInput) (*orgOutput, error) {
	org, err := h.svc.Create(ctx, callerFrom(ctx), tenancy.CreateOrgInput{Name: in.Body.Name, Slug: in.Body.Slug})
	if err != nil {
		return nil, problem(err)
	}
	return &orgOutput{Body: org}, nil
}

type orgDetailOutput struct {
	Body *tenancy.OrgDetail
}

func (h handlers) get(ctx context.Context, in *OrgParams) (*orgDetailOutput, error) {
	d, err := h.svc.Get(ctx, callerFrom(ctx), in.OrgID)
	if err != nil {
		return nil, problem(err)
	}
	return &orgDetailOutput{Body: d}, nil
}

type updateOrgInput struct {
	OrgParams
	Body struct {
		Name *string `json:"name,omitempty" minLength:"1" maxLength:"100"`
		Slug *string `json:"slug,omitempty" minLength:"1" maxLength:"50" pattern:"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"`
	}
}

func (h handlers) update(ctx context.Context, in *updateOrgInput) (*orgOutput, error) {
	org, err := h.svc.Update(ctx, callerFrom(ctx), in.OrgID, tenancy.UpdateOrgInput{Name: in.Body.Name, Slug: in.Body.Slug})
	if err != nil {
		return nil, problem(err)
	}
	return &orgOutput{Body: org}, nil
}

// OrgsOK is the `{ok:true}` body of deletions.
type OrgsOK struct {
	OK bool `json:"ok"`
}

type orgsOKOutput struct{ Body OrgsOK }

func (h handlers) delete(ctx context.Context, in *OrgParams) (*orgsOKOutput, error) {
	if err := h.svc.Delete(ctx, callerFrom(ctx), in.OrgID); err != nil {
		return nil, problem(err)
	}
	return &orgsOKOutput{Body: OrgsOK{OK: true}}, nil
}

// --- members

type addOrgMemberInput struct {
	OrgParams
	Body struct {
		Email string `json:"email" format:"email" minLength:"3" maxLength:"320"`
		Role  string `json:"role" enum:"admin,member,viewer"`
	}
}

// OrgMemberAdded is the answer of POST /api/orgs/{orgId}/members: {userId, role, added:true} when the user was
// added, {invited:true, email, role} when invited by email, plus token when the email has no account yet.
type OrgMemberAdded struct {
	UserID  string `json:"userId,omitempty"`
	Added   bool   `json:"added,omitempty"`
	Invited bool   `json:"invited,omitempty"`
	Email   string `json:"email,omitempty"`
	Role    string `json:"role" enum:"admin,member,viewer"`
	Token   string `json:"token,omitempty" doc:"Invitation token (64 hex characters), for emails without an account"`
}

type addOrgMemberOutput struct{ Body OrgMemberAdded }

func (h handlers) addMember(ctx context.Context, in *addOrgMemberInput) (*addOrgMemberOutput, error) {
	res, err := h.svc.AddMember(ctx, callerFrom(ctx), in.OrgID, in.Body.Email, auth.Role(in.Body.Role))
	if err != nil {
		return nil, problem(err)
	}
	body := OrgMemberAdded{Role: string(res.Role)}
	if res.Added {
		body.UserID, body.Added = res.UserID, true
	} else {
		body.Invited, body.Email, body.Token = true, res.Email, res.Token
	}
	return &addOrgMemberOutput{Body: body}, nil
}

// OrgMemberParams are the path parameters of member routes.
type OrgMemberParams struct {
	OrgParams
	UserID string `path:"userId"`
}

type changeOrgMemberRoleInput struct {
	OrgMemberParams
	Body struct {
		Role string `json:"role" enum:"admin,member,viewer"`
	}
}

type orgMemberRoleOutput struct {
	Body struct {
		UserID string `json:"userId"`
		Role   string `json:"role" enum:"admin,member,viewer"`
	}
}

func (h handlers) changeRole(ctx context.Context, in *changeOrgMemberRoleInput) (*orgMemberRoleOutput, error) {
	if err := h.svc.ChangeRole(ctx, callerFrom(ctx), in.OrgID, in.UserID, auth.Role(in.Body.Role)); err != nil {
		return nil, problem(err)
	}
	out := &orgMemberRoleOutput{}
	out.Body.UserID, out.Body.Role = in.UserID, in.Body.Role
	return out, nil
}

func (h handlers) removeMember(ctx context.Context, in *OrgMemberParams) (*orgsOKOutput, error) {
	if err := h.svc.RemoveMember(ctx, callerFrom(ctx), in.OrgID, in.UserID); err != nil {
		return nil, problem(err)
	}
	return &orgsOKOutput{Body: OrgsOK{OK: true}}, nil
}

// --- invitations

// OrgInvitationParams are the path parameters of invitation routes.
type OrgInvitationParams struct {
	OrgParams
	InvitationID string `path:"invitationId"`
}

type changeOrgInvitationInput struct {
	OrgInvitationParams
	Body struct {
		Role string `json:"role" enum:"admin,member,viewer"`
	}
}

type orgInvitationRoleOutput struct {
	Body struct {
		ID   string `json:"id"`
		Role string `json:"role" enum:"admin,member,viewer"`
	}
}

func (h handlers) changeInvitationRole(ctx context.Context, in *changeOrgInvitationInput) (*orgInvitationRoleOutput, error) {
	if err := h.svc.ChangeInvitationRole(ctx, callerFrom(ctx), in.OrgID, in.InvitationID, auth.Role(in.Body.Role)); err != nil {
		return nil, problem(err)
	}
	out := &orgInvitationRoleOutput{}
	out.Body.ID, out.Body.Role = in.InvitationID, in.Body.Role
	return out, nil
}

func (h handlers) cancelInvitation(ctx context.Context, in *OrgInvitationParams) (*orgsOKOutput, error) {
	if err := h.svc.CancelInvitation(ctx, callerFrom(ctx), in.OrgID, in.InvitationID); err != nil {
		return nil, problem(err)
	}
	return &orgsOKOutput{Body: OrgsOK{OK: true}}, nil
}

// --- settings

type orgSettingsOutput struct {
	Body *tenancy.OrgSettings
}

func (h handlers) settings(ctx context.Context, in *OrgParams) (*orgSettingsOutput, error) {
	st, err := h.svc.Settings(ctx, callerFrom(ctx), in.OrgID)
	if err != nil {
		return nil, problem(err)
	}
	return &orgSettingsOutput{Body: st}, nil
}

type updateOrgSettingsInput struct {
	OrgParams
	Body struct {
		APIVersion          *string `json:"apiVersion,omitempty" doc:"A supported API version (YYYY-MM-DD)"`
		DashboardSSOEnabled *bool   `json:"dashboardSsoEnabled,omitempty"`
	}
}

func (h handlers) updateSettings(ctx context.Context, in *updateOrgSettingsInput) (*orgSettingsOutput, error) {
	patch := tenancy.SettingsPatch{DashboardSSOEnabled: in.Body.DashboardSSOEnabled}
	if in.Body.APIVersion != nil {
		v, p := httpapi.ParseAPIVersion(*in.Body.APIVersion)
		if p != nil {
			return nil, p.WithParam("apiVersion")
		}
		patch.APIVersion = &v
	}
	st, err := h.svc.UpdateSettings(ctx, callerFrom(ctx), in.OrgID, patch)
	if err != nil {
		return nil, problem(err)
	}
	return &orgSettingsOutput{Body: st}, nil
}
