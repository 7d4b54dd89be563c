// Package webui is the browser side of the gateway: the operator console
// (/), its login page (/login) and the duty room's wall (/wall), served
// from files embedded in the binary, so `go build` needs no front-end build
// step and the default install has its console with nothing else running.
//
// The files under static/ are hand-written HTML, CSS, ES modules and SVG;
// no framework, no bundler. Handler serves them with:
//
//   - Content-Security-Policy "default-src 'self'" (no inline script or
//     style attribute anywhere; scripts are modules loaded from /static/),
//     so an alarm note or a resident's name that holds markup cannot run;
//   - Cache-Control "no-cache" and a strong ETag (the file's SHA-256), so
//     a browser revalidates every asset and gets 304 while the binary is
//     the same, and never runs an old console against a new gateway.
//
// Text shown to people comes from the catalogues static/i18n/<page>.<lang>.json
// (console and wall; zh-CN and en), applied by static/js/i18n.mjs to every
// element with a data-i18n attribute; i18n_test.go walks every key of both
// languages and every key the HTML and JS use.
//
// The handler holds no state beyond the embedded files and is safe for
// concurrent use. httpapi mounts it at "/" (Options.UI), after its own
// routes, so /api/, /healthz and /metrics never reach it.
package webui
