package httpapi

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/anxin-care/anxin/devices"
	"github.com/anxin-care/anxin/gateway/registry"
	"github.com/anxin-care/anxin/gateway/state"
)

// A fleet arrives as a CSV file: POST /api/v1/devices/import with the file
// as the body (Content-Type: text/csv), one device per row after a header
// row that names the columns, in any order:
//
//	id,kind,vendor,model,format,ref,site,resident,test
//	btn-101,call_button,Anxin,CB-200,native,,qs-12-bed1,r-0012,false
//	smk-7,smoke_detector,Heiman,HS1SA,zigbee2mqtt,kitchen_smoke,qs-12-kitchen,,
//
// id and kind are required; the others may be absent or empty and mean
// what they mean in POST /api/v1/devices (also accepted: location,
// supervision, edge). test takes true/false, yes/no, 1/0, on/off. A row
// may name as its edge a box added earlier in the same file; ?edge=BOX
// puts every row with an empty edge column behind BOX (a box's own row
// excepted).
//
// Every row is checked first, against the file (an id or reference twice)
// and against the registry (sites, residents, ids and references taken).
// If any row is bad the answer is 422 listing every bad row as {line,
// field, error} and nothing is imported, unless ?partial=true, which
// imports the good rows and lists the bad. ?dry_run=true checks and
// imports nothing. Line numbers are the file's (the header is line 1).
// The good rows are written in one transaction, with their audit entries;
// the answer carries each new device's password, the only time it is shown.
//
// Excel in a Chinese locale saves CSV as GBK by default: a file that is not
// UTF-8 is refused with a hint rather than stored as mojibake (anxinctl
// decodes such a file before it sends it).
//
// Every error of a row is listed, one entry per wrong field, in words for
// people (no reason codes).

// Import limits.
const (
	maxImportBytes = 8 << 20
	maxImportRows  = 10_000
)

// importColumns are the columns a device CSV may have.
var importColumns = []string{"id", "kind", "vendor", "model", "format", "ref", "site", "resident", "test", "location", "supervision", "edge"}

// ImportRowError is one bad row (field "" when the row as a whole is bad).
type ImportRowError struct {
	Line  int    `json:"line"`
	Field string `json:"field,omitempty"`
	Error string `json:"error"`
}

// ImportedDevice is one device created by an import.
type ImportedDevice struct {
	Line     int    `json:"line"`
	ID       string `json:"id"`
	Password string `json:"password"`
}

// ImportResult is the answer to an import; on 422 only Error and Errors are set.
type ImportResult struct {
	Error      string           `json:"error,omitempty"`
	Rows       int              `json:"rows"`
	Created    []ImportedDevice `json:"created"`
	Count      int              `json:"count"`
	Errors     []ImportRowError `json:"errors,omitempty"`
	MQTTBroker string           `json:"mqtt_broker,omitempty"`
	DryRun     bool             `json:"dry_run,omitempty"`
}

type importRow struct {
	line int
	dev  registry.Device
	bad  bool // an error of the file itself is listed; checked, never imported
}

func (srv *server) importDevices(w http.ResponseWriter, r *http.Request, s state.Session) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "text/csv" && mt != "text/plain" {
			writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("send the CSV file as text/csv, not %s", mt))
			return
		}
	}
	q := r.URL.Query()
	partial, dryRun := q.Get("partial") == "true", q.Get("dry_run") == "true"
	rows, bad, err := parseDeviceCSV(http.MaxBytesReader(w, r.Body, maxImportBytes), q.Get("edge"))
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, errTooManyRows):
		writeJSON(w, http.StatusRequestEntityTooLarge, ImportResult{Created: []ImportedDevice{},
			Error:  fmt.Sprintf("more than %d rows: at most %d rows per import; split the file", maxImportRows, maxImportRows),
			Errors: bad})
		return
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("import body over %d bytes; split the file", maxImportBytes))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the file: "+err.Error())
		return
	}
	res := ImportResult{Rows: len(rows), Created: []ImportedDevice{}, DryRun: dryRun}
	counted := map[int]bool{}
	for _, b := range bad {
		if b.Line > 1 && !counted[b.Line] && !slices.ContainsFunc(rows, func(r importRow) bool { return r.line == b.Line }) {
			counted[b.Line] = true
			res.Rows++
		}
	}
	if len(rows) == 0 && len(bad) == 0 {
		bad = append(bad, ImportRowError{Line: 2, Error: "no devices: the file has a header row and nothing else"})
	}
	// Rows already found bad in the file are still checked against the
	// registry, so that every error of a row is reported at once; only the
	// good rows can be imported.
	var good, flawed []importRow
	for _, row := range rows {
		if row.bad {
			flawed = append(flawed, row)
		} else {
			good = append(good, row)
		}
	}
	if len(flawed) > 0 {
		_, errs, err := srv.reg.AddBatch(devicesOf(flawed), registry.BatchOptions{By: s.User, Now: srv.now(), DryRun: true})
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		bad = append(bad, rowErrors(flawed, errs)...)
	}
	rows = good
	ds := devicesOf(rows)
	opts := registry.BatchOptions{By: s.User, Now: srv.now(), Action: state.ActionImport, Partial: partial,
		DryRun: dryRun || len(bad) > 0 && !partial}
	passwords, errs, err := srv.reg.AddBatch(ds, opts)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !opts.DryRun {
		srv.Devices.DevicesChanged()
	}
	bad = append(bad, rowErrors(rows, errs)...)
	slices.SortStableFunc(bad, func(a, b ImportRowError) int { return a.Line - b.Line })
	// A field the file and the registry both found wrong is told once.
	type lineField struct {
		line  int
		field string
	}
	told := map[lineField]bool{}
	bad = slices.DeleteFunc(bad, func(e ImportRowError) bool {
		k := lineField{e.Line, e.Field}
		dup := e.Field != "" && told[k]
		told[k] = true
		return dup
	})
	res.Errors = bad
	for i, pw := range passwords {
		if pw != "" {
			res.Created = append(res.Created, ImportedDevice{Line: rows[i].line, ID: ds[i].ID, Password: pw})
		}
	}
	res.Count = len(res.Created)
	switch {
	case dryRun:
		writeJSON(w, http.StatusOK, res)
	case len(bad) > 0 && res.Count == 0:
		res.Error = fmt.Sprintf("%d bad rows; nothing was imported", countLines(bad))
		writeJSON(w, http.StatusUnprocessableEntity, res)
	default:
		res.MQTTBroker = srv.brokerURL(r)
		srv.log.Info("devices imported", "count", res.Count, "refused", countLines(bad), "by", s.User)
		writeJSON(w, http.StatusCreated, res)
	}
}

func devicesOf(rows []importRow) []registry.Device {
	ds := make([]registry.Device, len(rows))
	for i, row := range rows {
		ds[i] = row.dev
	}
	return ds
}

// rowErrors lists the registry's errors of rows, one per wrong field.
func rowErrors(rows []importRow, errs []error) []ImportRowError {
	var out []ImportRowError
	for i, e := range errs {
		if e == nil {
			continue
		}
		for _, one := range flatten(e) {
			re := ImportRowError{Line: rows[i].line, Error: one.Error()}
			var fe *state.FieldError
			if errors.As(one, &fe) {
				re.Field, re.Error = fe.Field, fe.Err.Error()
			}
			out = append(out, re)
		}
	}
	return out
}

// flatten lists the errors joined in err (errors.Join), or err alone.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// countLines counts the distinct lines with errors.
func countLines(errs []ImportRowError) int {
	seen := map[int]bool{}
	for _, e := range errs {
		seen[e.Line] = true
	}
	return len(seen)
}

// errTooManyRows stops reading a file at its (maxImportRows+1)th row.
var errTooManyRows = errors.New("too many rows")

// parseDeviceCSV reads the file into rows, and the errors it can find
// without the registry: header, columns, test values, ids and references
// repeated within the file. It reads row by row and stops with
// errTooManyRows at the first row past maxImportRows, and with the
// reader's error (e.g. *http.MaxBytesError) if reading fails.
func parseDeviceCSV(r io.Reader, defaultEdge string) ([]importRow, []ImportRowError, error) {
	br := bufio.NewReader(r)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\uFEFF")) { // Excel's byte order mark
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil && !errors.Is(err, io.EOF) && !errors.As(err, new(*csv.ParseError)) {
		return nil, nil, err
	}
	if err != nil {
		return nil, []ImportRowError{{Line: 1, Error: "a header row is required: " + strings.Join(importColumns[:9], ",")}}, nil
	}
	if bad := notUTF8(header, 1); bad != nil {
		return nil, bad, nil
	}
	header = slices.Clone(header)
	col := map[string]int{}
	var bad []ImportRowError
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch _, dup := col[h]; {
		case !slices.Contains(importColumns, h):
			bad = append(bad, ImportRowError{Line: 1, Field: h, Error: fmt.Sprintf("unknown column %q; columns are %s", h, strings.Join(importColumns, ","))})
		case dup:
			bad = append(bad, ImportRowError{Line: 1, Field: h, Error: "column appears twice"})
		}
		col[h] = i
	}
	for _, need := range []string{"id", "kind"} {
		if _, ok := col[need]; !ok {
			bad = append(bad, ImportRowError{Line: 1, Field: need, Error: "required column is missing"})
		}
	}
	if len(bad) > 0 {
		return nil, bad, nil
	}
	var rows []importRow
	firstID, firstRef := map[string]int{}, map[string]int{}
	for n := 1; ; n++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if n > maxImportRows {
			line, _ := cr.FieldPos(0)
			return nil, []ImportRowError{{Line: line, Error: fmt.Sprintf("row %d of at most %d", n, maxImportRows)}}, errTooManyRows
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			bad = append(bad, ImportRowError{Line: pe.Line, Error: pe.Err.Error()})
			continue
		} else if err != nil {
			return nil, nil, err
		}
		line, _ := cr.FieldPos(0)
		if b := notUTF8(rec, line); b != nil {
			bad = append(bad, b...)
			continue
		}
		if len(rec) != len(header) {
			bad = append(bad, ImportRowError{Line: line, Error: fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))})
			continue
		}
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		d := registry.Device{ID: get("id"), Kind: devices.Kind(get("kind")), Vendor: get("vendor"), Model: get("model"),
			Format: get("format"), Ref: get("ref"), Site: get("site"), Resident: get("resident"),
			Location: get("location"), Supervision: get("supervision"), Edge: get("edge")}
		if d.Edge == "" && d.Kind != devices.KindEdgeBox {
			d.Edge = defaultEdge
		}
		rowBad := false
		test, ok := parseCSVBool(get("test"))
		if !ok {
			bad = append(bad, ImportRowError{Line: line, Field: "test", Error: fmt.Sprintf("%q: want true or false (or yes/no, 1/0)", get("test"))})
			rowBad = true
		}
		d.Test = test
		if first, dup := firstID[d.ID]; dup && d.ID != "" {
			bad = append(bad, ImportRowError{Line: line, Field: "id", Error: fmt.Sprintf("%s is also on line %d", d.ID, first)})
			rowBad = true
		} else {
			firstID[d.ID] = line
		}
		if ref := cmp.Or(d.Ref, d.ID); cmp.Or(d.Format, registry.FormatNative) != registry.FormatNative {
			key := d.Format + "\x00" + ref
			if first, dup := firstRef[key]; dup {
				bad = append(bad, ImportRowError{Line: line, Field: "ref", Error: fmt.Sprintf("%s %q is also on line %d", d.Format, ref, first)})
				rowBad = true
			} else {
				firstRef[key] = line
			}
		}
		rows = append(rows, importRow{line: line, dev: d, bad: rowBad})
	}
	return rows, bad, nil
}

// notUTF8 is the error of a record on line that is not UTF-8 text.
func notUTF8(rec []string, line int) []ImportRowError {
	if slices.ContainsFunc(rec, func(f string) bool { return !utf8.ValidString(f) }) {
		return []ImportRowError{{Line: line, Error: "not UTF-8 text (GBK?): save the file as \"CSV UTF-8\""}}
	}
	return nil
}

func parseCSVBool(s string) (v, ok bool) {
	switch strings.ToLower(s) {
	case "", "false", "no", "0", "off", "n":
		return false, true
	case "true", "yes", "1", "on", "y":
		return true, true
	}
	return false, false
}
