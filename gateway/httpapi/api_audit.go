package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// auditRoles may read the audit trail: the people who change the registry.
var auditRoles = []state.Role{state.RoleAdmin, state.RoleInstaller}

// listAudit serves GET /api/v1/audit?object=device:btn-1&limit=&before=:
// the trail newest first, for one object or all; before (an entry id)
// pages back.
func (srv *server) listAudit(w http.ResponseWriter, r *http.Request, _ state.Session) {
	q := r.URL.Query()
	aq := state.AuditQuery{Object: q.Get("object"), Before: q.Get("before")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > state.MaxAuditLimit {
			writeRegistryError(w, state.FieldErrorf("limit", "want a number from 1 to %d", state.MaxAuditLimit))
			return
		}
		aq.Limit = n
	}
	entries, err := srv.db.Audit(aq)
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": nonNil(entries), "count": len(entries)})
}

// auditUser records a new user. state.DB.AddUserProfile writes the user in its own
// transaction, so this entry follows it in a second one; it records the
// name and role, never the password.
func (srv *server) auditUser(by, name string, role state.Role) {
	e := state.NewAuditEntry(srv.now(), by, state.ActionAdd, "user:"+name, nil, map[string]any{"name": name, "role": role})
	if err := srv.db.Update(func(tx *state.Tx) error { return tx.Audit(e) }); err != nil {
		srv.log.Error("audit entry not written", "object", e.Object, "err", err)
	}
}

// FieldErrorBody is an error answer that names the field at fault, e.g.
// {"error": "site: site not found: qs-12", "field": "site"}.
type FieldErrorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// writeRegistryError answers an error of the registry model: 409 for a
// conflict (already exists, in use, replaced, reference taken), 404 when
// the object the URL names is unknown, 400 for a bad field, 500 otherwise.
func writeRegistryError(w http.ResponseWriter, err error) {
	// Several wrong fields come joined, one a line: one line here.
	body := FieldErrorBody{Error: strings.ReplaceAll(err.Error(), "\n", "; ")}
	var fe *state.FieldError
	isField := errors.As(err, &fe)
	if isField {
		body.Field = fe.Field
	}
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, registry.ErrDeviceExists), errors.Is(err, registry.ErrSiteExists), errors.Is(err, registry.ErrResidentExists),
		errors.Is(err, registry.ErrSiteInUse), errors.Is(err, registry.ErrResidentInUse), errors.Is(err, registry.ErrDeviceRetired),
		errors.Is(err, registry.ErrDeviceInUse),
		errors.Is(err, registry.ErrRefTaken):
		status = http.StatusConflict
	case isField:
		status = http.StatusBadRequest
	case errors.Is(err, registry.ErrDeviceUnknown), errors.Is(err, registry.ErrSiteUnknown), errors.Is(err, registry.ErrResidentUnknown):
		status = http.StatusNotFound
	}
	writeJSON(w, status, body)
}

// writeRemoved answers a DELETE of a registry object: 204 when err is nil,
// else err as writeRegistryError answers it.
func writeRemoved(w http.ResponseWriter, err error) {
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
