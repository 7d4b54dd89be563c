package apiclient

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
)

// backupChecksumTrailer is httpapi.ChecksumTrailer (the client does not
// link the gateway; the backup test checks both ends agree).
const backupChecksumTrailer = "Anxin-Checksum"

// Backup streams a snapshot of the gateway's state into w and returns its
// size and SHA-256 ("sha256=<hex>"), checked against the checksum the
// gateway sent after the last byte. An answer cut short, or one whose
// checksum differs, is an error: what was written to w is not a backup.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+"/api/v1/backup", nil)
	if err != nil {
		return 0, "", err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return 0, "", answerError(req.Method, req.URL.Path, resp.StatusCode, data)
	}
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, sum), resp.Body)
	if err != nil {
		return n, "", fmt.Errorf("backup cut short after %d bytes: %w", n, err)
	}
	got := "sha256=" + hex.EncodeToString(sum.Sum(nil))
	sent := resp.Trailer.Get(backupChecksumTrailer)
	switch {
	case sent == "":
		return n, got, fmt.Errorf("backup of %d bytes ended without its checksum: the gateway failed while sending it (see its log)", n)
	case sent != got:
		return n, got, fmt.Errorf("backup damaged in transit: received %s, the gateway sent %s", got, sent)
	}
	return n, got, nil
}
