package ctl

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anxin-care/anxin/gateway/apiclient"
	"golang.org/x/text/encoding/simplifiedchinese"
)

const importHelp = `FILE is CSV ("-" reads standard input) with a header row naming the columns,
in any order. UTF-8, with or without a byte order mark, or GBK (what Excel on
a Chinese Windows saves) is read:

  id,kind,vendor,model,format,ref,site,resident,test

  id        the device id (required)
  kind      ` + deviceKindsHelp + ` (required)
  vendor    the maker, e.g. Heiman
  model     the model, e.g. HS1SA
  format    native (default), zigbee2mqtt or vendor_json:VENDOR
  ref       Zigbee2MQTT friendly name or vendor device id (default: the id);
            empty for native devices
  site      the room or bed where it is installed
  resident  the resident id who uses it
  test      true/false (yes/no, 1/0): start in walk-test mode
  edge      the edge box the device reaches central through; a box may be
            a row of the same file, above the devices behind it
  location, supervision   optional, as for device add

--edge BOX puts every row with an empty edge column behind BOX.

Every row is checked first. If any is bad, each of its errors is reported
as "line N: field X: why" and nothing is imported, unless --partial, which
imports the good rows. --dry-run only checks, and exits 1 when a row is bad. The new devices' passwords
are shown only once: written as CSV (id,password,mqtt_broker) to the file
given by --passwords-out (created with mode 0600, never overwritten), or to
standard output.`

func deviceImport() *command {
	return &command{name: "import", args: "FILE.csv [--partial] [--passwords-out FILE]", nargs: 1,
		summary: "provision devices from a CSV file, all or nothing", help: importHelp,
		setup: func(fs *flag.FlagSet) runFunc {
			var opts apiclient.ImportOptions
			fs.BoolVar(&opts.Partial, "partial", false, "import the good rows even if others are bad")
			fs.BoolVar(&opts.DryRun, "dry-run", false, "check every row, import nothing")
			fs.StringVar(&opts.Edge, "edge", "", "put every row with an empty edge column behind edge `BOX`")
			out := fs.String("passwords-out", "", "write the new devices' passwords to this CSV `FILE` (mode 0600)")
			return func(e *env, args []string) error {
				data, err := readInput(e, args[0])
				if err != nil {
					return err
				}
				data, enc, err := decodeCSV(data)
				if err != nil {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				if enc != "" && !e.json() {
					fmt.Fprintf(e.stderr, "%s is not UTF-8: read it as %s (what Excel on a Chinese Windows saves).\n", args[0], enc)
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				// Create the passwords file first: a password that cannot be
				// written after the import is lost for good.
				var pwFile *os.File
				if *out != "" && !opts.DryRun {
					if pwFile, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
						return fmt.Errorf("passwords file: %w (choose a new file: it is never overwritten)", err)
					}
					defer pwFile.Close()
				}
				var body io.Reader = bytes.NewReader(data)
				var bar *progressBar
				if isTerminal(e.stdout) && !e.json() {
					bar = newProgressBar(e.stdout, data)
					body = bar.reader(body)
				}
				res, err := c.Import(e.ctx, body, opts)
				bar.done()
				if err != nil {
					if pwFile != nil {
						pwFile.Close()
						os.Remove(*out)
					}
					var apiErr *apiclient.Error
					if errors.As(err, &apiErr) && len(apiErr.Rows) > 0 {
						printRowErrors(e.stderr, apiErr.Rows)
						hint := ""
						if !opts.Partial {
							hint = " (--partial imports the good rows)"
						}
						return fmt.Errorf("%s in %s; nothing was imported%s", plural(len(rowLines(apiErr.Rows)), "bad row"), args[0], hint)
					}
					return err
				}
				printRowErrors(e.stderr, res.Errors)
				if e.json() {
					if err := e.printJSON(res); err != nil {
						return err
					}
				}
				if opts.DryRun {
					bad := len(rowLines(res.Errors))
					if !e.json() {
						e.printf("%s checked: %d good, %s; nothing imported (dry run).\n", plural(res.Rows, "row"),
							res.Rows-bad, plural(bad, "bad row"))
					}
					if bad > 0 { // a script's check must fail on a bad file
						return fmt.Errorf("%s in %s", plural(bad, "bad row"), args[0])
					}
					return nil
				}
				summary := fmt.Sprintf("Imported %s", plural(res.Count, "device"))
				if len(res.Errors) > 0 {
					summary += fmt.Sprintf("; skipped %s", plural(len(rowLines(res.Errors)), "bad row"))
				}
				switch {
				case pwFile != nil:
					if err := writePasswords(pwFile, res); err != nil {
						// Not written: show them rather than lose them.
						fmt.Fprintf(e.stderr, "anxinctl: %s: %v; the passwords follow on standard output\n", *out, err)
						writePasswords(e.stdout, res)
					} else if !e.json() {
						e.printf("%s. Passwords written to %s; keep it safe, they are not shown again.\n", summary, *out)
					}
				case e.json():
				default:
					fmt.Fprintf(e.stderr, "%s. Their passwords follow as CSV; they are not shown again.\n", summary)
					return writePasswords(e.stdout, res)
				}
				return nil
			}
		}}
}

func readInput(e *env, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(e.stdin)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %w", err)
	}
	return data, nil
}

func writePasswords(w io.Writer, res apiclient.ImportResult) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "password", "mqtt_broker"})
	for _, d := range res.Created {
		cw.Write([]string{d.ID, d.Password, res.MQTTBroker})
	}
	cw.Flush()
	return cw.Error()
}

// printRowErrors reports every error of each bad row, one a line:
// "line N: field X: why".
func printRowErrors(w io.Writer, rows []apiclient.RowError) {
	for _, r := range rows {
		if r.Field != "" {
			fmt.Fprintf(w, "line %d: field %s: %s\n", r.Line, r.Field, r.Error)
		} else {
			fmt.Fprintf(w, "line %d: %s\n", r.Line, r.Error)
		}
	}
}

// decodeCSV returns the file as UTF-8 and the encoding it was decoded
// from ("" when it was UTF-8 already, with or without a byte order mark).
// A file that is not UTF-8 is taken as GB18030, which includes GBK: what
// Excel on a Chinese Windows saves as "CSV". A file that is neither is
// refused rather than imported as mojibake.
func decodeCSV(data []byte) ([]byte, string, error) {
	if utf8.Valid(data) {
		return data, "", nil
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
	if err != nil || bytes.ContainsRune(out, utf8.RuneError) {
		return nil, "", errors.New("neither UTF-8 nor GBK text: save the file as \"CSV UTF-8\"")
	}
	return out, "GBK", nil
}

func rowLines(rows []apiclient.RowError) map[int]bool {
	m := map[int]bool{}
	for _, r := range rows {
		m[r.Line] = true
	}
	return m
}

// progressBar shows how much of the file has been sent, on a terminal:
//
//	[██████████░░░░░░░░░░]  512/1000 rows sent
//
// then "checking and importing" until the gateway answers.
type progressBar struct {
	w          io.Writer
	total      int // rows in the file, without the header
	size, sent int
	lines      int
	last       time.Time
}

func newProgressBar(w io.Writer, data []byte) *progressBar {
	return &progressBar{w: w, total: max(bytes.Count(data, []byte("\n"))-1, 0), size: len(data)}
}

func (p *progressBar) reader(r io.Reader) io.Reader { return &progressReader{r: r, p: p} }

type progressReader struct {
	r io.Reader
	p *progressBar
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	p := pr.p
	p.sent += n
	p.lines += bytes.Count(b[:n], []byte("\n"))
	if err == io.EOF || time.Since(p.last) > 50*time.Millisecond {
		p.draw(err == io.EOF)
	}
	return n, err
}

func (p *progressBar) draw(finished bool) {
	p.last = time.Now()
	const width = 30
	filled := width
	if p.size > 0 {
		filled = width * p.sent / p.size
	}
	rows := min(max(p.lines-1, 0), p.total)
	status := "rows sent"
	if finished {
		rows, status = p.total, "rows sent; checking and importing…"
	}
	fmt.Fprintf(p.w, "\r[%s%s] %*d/%d %s", strings.Repeat("█", filled), strings.Repeat("░", width-filled),
		len(fmt.Sprint(p.total)), rows, p.total, status)
}

// done clears the bar's line; a nil bar does nothing.
func (p *progressBar) done() {
	if p != nil {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
