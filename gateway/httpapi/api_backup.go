package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/anxin-care/anxin/gateway/state"
)

// backupRoute is the one route the backup token may use.
const backupRoute = "GET /api/v1/backup"

// BackupTokenUser is who the audit trail names for a backup taken with the
// backup token.
const BackupTokenUser = "backup-token"

// orBackupToken lets a request with the backup token through to backup, as
// BackupTokenUser, when it comes from a loopback address; any other request
// goes to next (a logged-in admin).
func (srv *server) orBackupToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r, false)
		if srv.BackupToken == "" || tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(srv.BackupToken)) != 1 {
			next.ServeHTTP(w, r)
			return
		}
		if !fromLoopback(r) {
			writeError(w, http.StatusForbidden, "the backup token is accepted only from this machine (127.0.0.1 or ::1)")
			return
		}
		srv.backup(w, r, state.Session{User: BackupTokenUser, Role: state.RoleAdmin})
	})
}

// fromLoopback reports whether r came over a loopback address.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// backupWriteTimeout bounds sending one backup.
const backupWriteTimeout = 30 * time.Minute

// ChecksumTrailer is the HTTP trailer of a backup that carries the SHA-256
// of the bytes sent, "sha256=<hex>". A client compares it with what it
// received before it keeps the file.
const ChecksumTrailer = "Anxin-Checksum"

// backup serves GET /api/v1/backup (admins): a consistent snapshot of the
// state file (state.DB.Backup), streamed while the gateway goes on, with
// its checksum in a trailer. The state file holds credentials (password
// hashes, session tokens' hashes, device secrets): keep backups as
// carefully as the data directory.
func (srv *server) backup(w http.ResponseWriter, r *http.Request, s state.Session) {
	if srv.db.Backend() != state.BackendBbolt {
		writeError(w, http.StatusNotImplemented, "the state is in PostgreSQL (state.backend: postgres): back it up with pg_dump or the database's own backups")
		return
	}
	at := srv.now()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", state.BackupName(at)))
	h.Set("Anxin-Schema-Version", strconv.Itoa(state.SchemaVersion))
	h.Set("Trailer", ChecksumTrailer)
	// A snapshot of a large file over a slow link takes longer than one
	// write deadline; the read transaction it holds does not block writers.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(backupWriteTimeout))
	sum := sha256.New()
	n, err := srv.db.Backup(io.MultiWriter(w, sum))
	if err != nil {
		// The status is sent; a missing trailer tells the client it failed.
		srv.log.Error("backup failed", "by", s.User, "bytes", n, "err", err)
		return
	}
	checksum := "sha256=" + hex.EncodeToString(sum.Sum(nil))
	h.Set(ChecksumTrailer, checksum)
	e := state.NewAuditEntry(srv.now(), s.User, state.ActionBackup, "state", nil, map[string]any{"bytes": n, "checksum": checksum})
	if err := srv.db.Update(func(tx *state.Tx) error { return tx.Audit(e) }); err != nil {
		srv.log.Error("audit entry not written", "object", e.Object, "err", err)
	}
	srv.log.Info("backup taken", "by", s.User, "bytes", n, "checksum", checksum)
}
