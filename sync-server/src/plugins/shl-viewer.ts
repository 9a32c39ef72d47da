/**
 * The minimal SMART Health Link viewer the sync server serves at `/shl/view#shlink:/…`: it reads the link
 * from the URL's fragment (never sent to the server), asks for the manifest with the passcode the person
 * types, decrypts the JWE in the browser with WebCrypto (AES-256-GCM, `dir`) and shows the summary as text.
 *
 * What it is trusted with (docs/architecture.md, "SMART Health Links"): the page sees the link's key and
 * the decrypted summary. The server sends this page, so a server that turned hostile could send a page that
 * leaks the key; the same holds for any web viewer. Links opened in another viewer (any that follows the
 * specification) do not depend on this page. Content is written with textContent only (no HTML from the
 * content is ever parsed), and the page's CSP allows scripts and requests to this origin alone.
 */
export const SHL_VIEWER_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shared health summary</title>
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:1rem auto;padding:0 1rem;line-height:1.45}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.4rem;border-bottom:1px solid #ccc}
label{display:block;margin:.6rem 0 .2rem}input{font-size:1rem;padding:.4rem;width:100%;max-width:20rem}
button{font-size:1rem;margin-top:.8rem;padding:.5rem 1rem}#status{margin-top:1rem;font-weight:600}
.warn{color:#8a1c00}</style></head>
<body><main><h1 id="title">Shared health summary</h1>
<form id="form" hidden><label for="recipient">Your name or organisation</label><input id="recipient" autocomplete="organization" required>
<div id="passcode-row" hidden><label for="passcode">Passcode</label><input id="passcode" type="password" autocomplete="off"></div>
<button type="submit">Open</button></form>
<p id="status" role="status" aria-live="polite"></p><div id="content"></div></main>
<script src="/shl/view.js"></script></body></html>
`;

export const SHL_VIEWER_SCRIPT = `'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var say = function (text, warn) { $('status').textContent = text; $('status').className = warn ? 'warn' : ''; };
  var b64u = function (text) {
    var s = text.replace(/-/g, '+').replace(/_/g, '/'); while (s.length % 4) s += '=';
    var bin = atob(s); var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  };
  var hash = location.hash; var at = hash.indexOf('shlink:/');
  if (at < 0) { say('This page opens SMART Health Links: the link is missing from the address.', true); return; }
  var payload;
  try { payload = JSON.parse(new TextDecoder().decode(b64u(hash.slice(at + 8)))); } catch (e) { say('This link is damaged.', true); return; }
  if (payload.label) $('title').textContent = payload.label;
  if (payload.exp && payload.exp * 1000 < Date.now()) { say('This link has expired.', true); return; }
  var needsPasscode = (payload.flag || '').indexOf('P') >= 0;
  $('passcode-row').hidden = !needsPasscode; $('passcode').required = needsPasscode; $('form').hidden = false;
  var decrypt = async function (jwe) {
    var parts = jwe.split('.');
    var header = JSON.parse(new TextDecoder().decode(b64u(parts[0])));
    if (header.alg !== 'dir' || header.enc !== 'A256GCM') throw new Error('unsupported encryption');
    var key = await crypto.subtle.importKey('raw', b64u(payload.key), 'AES-GCM', false, ['decrypt']);
    var ct = b64u(parts[3]); var tag = b64u(parts[4]); var both = new Uint8Array(ct.length + tag.length);
    both.set(ct); both.set(tag, ct.length);
    var plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: b64u(parts[2]), additionalData: new TextEncoder().encode(parts[0]), tagLength: 128 }, key, both));
    if (header.zip === 'DEF') plain = new Uint8Array(await new Response(new Blob([plain]).stream().pipeThrough(new DecompressionStream('deflate-raw'))).arrayBuffer());
    return JSON.parse(new TextDecoder().decode(plain));
  };
  var el = function (tag, text) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; return e; };
  var nameOf = function (c) { if (!c) return ''; if (c.text) return c.text; var k = (c.coding || [])[0]; return k ? (k.display || k.code || '') : ''; };
  var describe = function (r) {
    var name = nameOf(r.code || r.vaccineCode || r.medicationCodeableConcept) || r.resourceType;
    var v = r.valueQuantity ? ': ' + r.valueQuantity.value + ' ' + (r.valueQuantity.unit || '') : r.valueString ? ': ' + r.valueString : r.valueCodeableConcept ? ': ' + nameOf(r.valueCodeableConcept) : '';
    var when = r.effectiveDateTime || r.occurrenceDateTime || r.onsetDateTime || r.performedDateTime || '';
    return name + v + (when ? ' (' + when + ')' : '');
  };
  var render = function (bundle) {
    var box = $('content'); box.textContent = '';
    var byUrl = {}; (bundle.entry || []).forEach(function (e) { byUrl[e.fullUrl] = e.resource; });
    var first = (bundle.entry || [])[0]; var comp = first && first.resource;
    var patient = comp && comp.subject ? byUrl[comp.subject.reference] : null;
    if (patient) {
      var n = (patient.name || [])[0]; box.appendChild(el('h2', 'Patient'));
      box.appendChild(el('p', (n ? (n.text || [].concat(n.given || []).concat(n.family || []).join(' ')) : '') + (patient.birthDate ? ', born ' + patient.birthDate : '')));
      (patient.contact || []).forEach(function (c) {
        var phone = (c.telecom || []).filter(function (t) { return t.system === 'phone'; })[0];
        box.appendChild(el('p', 'Emergency contact: ' + ((c.name && c.name.text) || '') + ' (' + (c.relationship || []).map(nameOf).filter(Boolean).join(', ') + ')' + (phone ? ', ' + phone.value : '')));
      });
    }
    ((comp && comp.section) || []).forEach(function (s) {
      box.appendChild(el('h2', s.title || 'Section')); var ul = el('ul');
      (s.entry || []).forEach(function (ref) { var r = byUrl[ref.reference]; if (r) ul.appendChild(el('li', describe(r))); });
      box.appendChild(ul);
    });
  };
  $('form').addEventListener('submit', async function (event) {
    event.preventDefault(); say('Opening…');
    var body = { recipient: $('recipient').value };
    if (needsPasscode) body.passcode = $('passcode').value;
    try {
      var res = await fetch(payload.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (res.status === 401) { var why = await res.json(); say('Wrong passcode. Tries left: ' + why.remainingAttempts + '.', true); return; }
      if (res.status === 404) { say('This link no longer works: it expired, was revoked, or was locked after wrong passcodes.', true); return; }
      if (!res.ok) { say('The server refused (' + res.status + '). Try again later.', true); return; }
      var manifest = await res.json(); var file = manifest.files[0];
      var jwe = file.embedded || (await (await fetch(file.location)).text());
      render(await decrypt(jwe)); $('form').hidden = true; say('Opened. This summary was shared with you by the patient.');
    } catch (e) { say('Could not open this link: ' + e.message, true); }
  });
})();
`;
