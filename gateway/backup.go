package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"

	"github.com/anxin-care/anxin/internal/durable"
)

// BackupTokenFile is the file in the data directory that holds the backup
// token: a secret, new at every start, that may take backups of the
// running gateway from this machine and do nothing else
// (httpapi.Options.BackupToken). The nightly backup timer reads it
// (deploy/systemd/anxin-backup.service); only the gateway's own user can.
const BackupTokenFile = "backup.token"

// writeBackupToken makes a new backup token and writes it to dir, replacing
// the last one, readable by the owner only.
func writeBackupToken(dir string) (string, error) {
	b := make([]byte, 32)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	// Synced and renamed whole: after a power cut the file holds this
	// token or the last one, never a part (and the next start makes a new
	// one anyway).
	if err := durable.WriteFile(filepath.Join(dir, BackupTokenFile), []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("backup token: %w", err)
	}
	return tok, nil
}
