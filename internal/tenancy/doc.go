// Package tenancy owns who belongs where: organizations, members and invitations, applications, end-users
// and connection profiles, and the membership lookups the request pipeline uses.
package tenancy
