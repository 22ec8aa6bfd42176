// gijiroku review page: the draft minutes beside the recording, edited in place and saved
// back through /api/doc. Plain DOM code without dependencies: the server embeds this file
// and the page must work with the network unplugged.
'use strict';
(function () {
  // ---------------------------------------------------------------- constants
  // Turn grouping, mirrored from the server (minutes::draft): pauses in whole milliseconds.
  const TURN_PAUSE_MS = 30000;
  const UNKNOWN_PAUSE_MS = 1500;
  const UNKNOWN = '発言者';
  const AUTOSAVE_MS = 1000;
  const AUTOSAVE_MAX_MS = 10000; // typing without a pause still saves this often
  const TYPING_QUIET_MS = 3000; // no auto-scroll this long after a keystroke or a wheel
  const BURST_GAP_MS = 2000; // a longer pause in typing starts a new undo step
  const UNDO_LIMIT = 200;
  const SKIP_S = 5;
  const SPEEDS = [1, 1.25, 1.5, 2];
  // Turns sit in blocks of this many; the browser skips laying out blocks off screen, and a
  // change relays out one block instead of thousands of turns.
  const CHUNK = 64;
  const PEOPLE = ['出席者', '欠席者', '説明員', '事務局'];

  // ---------------------------------------------------------------- elements
  const byId = (id) => document.getElementById(id);
  const audio = byId('audio');
  const list = byId('turns');
  const scroller = byId('scroller');
  const saveStateEl = byId('save-state');
  const progressEl = byId('progress');
  const bannerEl = byId('banner');
  const menuEl = byId('menu');
  const toastEl = byId('toast');
  const playBtn = byId('play');
  const seekEl = byId('seek');
  const nowEl = byId('now');
  const durEl = byId('dur');
  const markCountEl = byId('mark-count');
  const undoBtn = byId('undo');
  const redoBtn = byId('redo');
  const templateEl = byId('template');
  const exportBtn = byId('export');
  const exportResultEl = byId('export-result');
  const headerFields = Array.from(document.querySelectorAll('[data-m]'));

  // ---------------------------------------------------------------- state
  let doc = null; // the document as received; segments are replaced, never mutated (undo)
  let revision = null;
  let audioSeconds = 0;
  let turns = []; // computed turns, parallel to turnEls
  let turnEls = [];
  let turnStarts = new Float64Array(0);
  let marksFlat = null; // [turn, start, end, …] over all turns, built lazily
  let markers = []; // doc.markers (read-only) as shown: {i, at, label, el, slot}
  let structureStale = false; // an edit emptied a segment: regroup when the caret leaves
  const domStale = new Set(); // text elements whose <mark>s may no longer match the model
  let rendering = false;

  let undoStack = [];
  let redoStack = [];
  let burst = null; // {key, at}: the typing run the last undo snapshot covers

  let editSeq = 0; // bumped on every model change
  let savedSeq = 0; // editSeq of the last document on disk
  let inFlight = null;
  let saveQueued = false;
  let saveTimer = 0;
  let dirtySince = 0; // when the oldest change not yet on disk was made
  let saveError = null;
  let conflict = null;
  let composingDirty = false;
  let allowUnload = false;

  let lastTypedAt = 0;
  let lastWheelAt = 0;
  let lastCaret = null; // {turn, start, end}: survives blur, for split from a menu
  let currentEl = null;
  let menuTurn = -1;
  let peopleBase = {}; // person lists as they were when their textarea got focus
  let toastTimer = 0;

  // ---------------------------------------------------------------- text helpers
  // Rust's char::is_whitespace (Unicode White_Space): the server trims with it.
  function isWs(c) {
    return c === 32 || (c >= 9 && c <= 13) || c === 0x85 || c === 0xa0 || c === 0x1680 ||
      (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f ||
      c === 0x205f || c === 0x3000;
  }
  function leadLen(s) {
    let i = 0;
    while (i < s.length && isWs(s.charCodeAt(i))) i++;
    return i;
  }
  function trailLen(s) {
    let j = s.length;
    while (j > 0 && isWs(s.charCodeAt(j - 1))) j--;
    return s.length - j;
  }
  const isBlank = (s) => leadLen(s) === s.length;
  const asciiAlnum = (c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  const str = (v) => (typeof v === 'string' ? v : '');
  const num = (v) => (typeof v === 'number' && isFinite(v) ? v : 0);
  const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
  // The server's seconds -> Ms conversion (export::json::to_ms).
  const toMs = (s) => (typeof s === 'number' && isFinite(s) && s > 0 ? Math.round(s * 1000) : 0);

  // Marks count Unicode code points; the DOM counts UTF-16 units. Identity without surrogates.
  const SURROGATE = /[\ud800-\udfff]/;
  function cpToU16(s, cp) {
    if (!Number.isFinite(cp)) return NaN;
    if (!SURROGATE.test(s)) return cp;
    let u = 0;
    for (let c = 0; c < cp && u < s.length; c++) {
      const x = s.charCodeAt(u);
      u += x >= 0xd800 && x < 0xdc00 && u + 1 < s.length ? 2 : 1;
    }
    return u;
  }
  function u16ToCp(s, u) {
    if (!SURROGATE.test(s)) return u;
    let c = 0;
    for (let i = 0; i < u && i < s.length; i++) {
      const x = s.charCodeAt(i);
      if (x >= 0xd800 && x < 0xdc00 && i + 1 < s.length) i++;
      c++;
    }
    return c;
  }
  const cpLen = (s) => u16ToCp(s, s.length);

  function hms(sec) {
    const t = Math.max(0, Math.floor(num(sec)));
    const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
    return h + ':' + String(m).padStart(2, '0') + ':' + String(s).padStart(2, '0');
  }
  // For markup; a CR as a reference, or the HTML parser would turn CR LF into LF.
  function esc(s) {
    return String(s).replace(/[&<>"'\r]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '\r': '&#13;' })[c]);
  }
  function hueOf(name) {
    let h = 0;
    for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return h % 360;
  }

  // ---------------------------------------------------------------- speakers
  function speakerNames() {
    const m = doc.meeting;
    const n = m && typeof m === 'object' ? m['話者'] : null;
    return n && typeof n === 'object' && !Array.isArray(n) ? n : null;
  }
  function ensureMeeting() {
    if (!doc.meeting || typeof doc.meeting !== 'object') doc.meeting = {};
    return doc.meeting;
  }
  function ensureNames() {
    const m = ensureMeeting();
    if (!m['話者'] || typeof m['話者'] !== 'object' || Array.isArray(m['話者'])) m['話者'] = {};
    return m['話者'];
  }
  // meeting::display_name: the 話者 entry unless blank, else the label itself.
  function nameOf(label) {
    const names = speakerNames();
    const n = names && hasOwn(names, label) ? names[label] : null;
    return typeof n === 'string' && !isBlank(n) ? n : label;
  }
  function allLabels() {
    const set = new Set(doc.labels.map(str));
    const names = speakerNames();
    if (names) for (const k of Object.keys(names)) set.add(k);
    if (Array.isArray(doc.voices)) for (const v of doc.voices) if (v && typeof v.label === 'string') set.add(v.label);
    return set;
  }
  // Display names in order of first appearance, with how many turns each has.
  function speakerChoices() {
    const counts = new Map();
    for (const t of turns) counts.set(t.name, (counts.get(t.name) || 0) + 1);
    const names = speakerNames();
    if (names) for (const k of Object.keys(names)) { const n = nameOf(k); if (!counts.has(n)) counts.set(n, 0); }
    return Array.from(counts, ([name, count]) => ({ name, count }));
  }
  function labelForName(name) {
    for (const l of doc.labels) if (nameOf(l) === name) return l;
    const names = speakerNames();
    if (names) for (const k of Object.keys(names)) if (nameOf(k) === name) return k;
    return null;
  }
  // A display name that is still a raw voice label (話者N): nobody has named that voice yet.
  function isUnnamed(name) {
    return /^話者\d+$/.test(name) && nameOf(name) === name;
  }
  // doc.voices entries (how each voice got its name) for the labels of a turn's segments.
  function voicesOf(t) {
    if (!Array.isArray(doc.voices)) return [];
    const labels = new Set(t.segs.map((i) => str(doc.labels[i])));
    return doc.voices.filter((v) => v && typeof v === 'object' && labels.has(v.label));
  }
  // The candidate-names section of the speaker menu (empty when there is nothing to offer).
  function candidatesHtml(t) {
    const seen = new Set([t.name]);
    let buttons = '', unnamed = false;
    for (const v of voicesOf(t)) {
      if (v.how === 'unnamed' && nameOf(str(v.label)) === str(v.label)) unnamed = true;
      if (!Array.isArray(v.candidates)) continue;
      for (const c of v.candidates) {
        const name = c && typeof c.name === 'string' ? c.name.trim() : '';
        if (!name || seen.has(name)) continue;
        seen.add(name);
        const calls = Array.isArray(c.calls) ? c.calls.filter((x) => x && typeof x === 'object').slice(0, 2) : [];
        const ev = calls.map((x) => hms(x.at) + '「' + str(x.said) + '」').join(' ');
        buttons += '<button type="button" class="cand" data-cand="' + esc(name) + '"><span class="cand-name">' + esc(name) +
          '</span>' + (ev ? '<small class="cand-ev">' + esc(ev) + '</small>' : '') + '</button>';
      }
    }
    const note = unnamed ? '<p class="menu-unnamed">この声の名前は自動では決められませんでした</p>' : '';
    if (buttons) return '<section class="menu-cands"><h3>候補（議長の呼名から）</h3>' + note + '<div class="cands">' + buttons + '</div></section>';
    return note ? '<section class="menu-cands">' + note + '</section>' : '';
  }
  function newLabel() {
    let max = 0;
    for (const l of allLabels()) {
      const m = /^話者(\d+)$/.exec(l);
      if (m) max = Math.max(max, parseInt(m[1], 10));
    }
    return '話者' + (max + 1);
  }

  // ---------------------------------------------------------------- turns
  // A segment's trimmed text and marks (UTF-16, relative to the trimmed text). Segments are
  // never changed in place, only replaced, so the object itself is the cache key.
  const segCache = new WeakMap();
  function segInfo(sg) {
    let c = segCache.get(sg);
    if (c) return c;
    const s = str(sg.text), lead = leadLen(s), blank = lead === s.length;
    const trail = blank ? 0 : trailLen(s), body = s.slice(lead, s.length - trail), mk = [];
    if (Array.isArray(sg.marks)) {
      for (const m of sg.marks) {
        if (!m) continue;
        // As the server: offsets minus the leading blanks, clamped to the trimmed text.
        const a = Math.max(0, cpToU16(s, m.start) - lead), b = Math.min(body.length, cpToU16(s, m.end) - lead);
        if (a < b) mk.push(a, b);
      }
    }
    c = { lead, trail, body, blank, mk };
    segCache.set(sg, c);
    return c;
  }

  // Same grouping as the server, so that page turn i is JSON turns[i] after a save.
  function computeTurns() {
    const segs = doc.segments, labels = doc.labels, out = [];
    // Turns whose segments (the same objects) and name did not change are reused as they
    // are: regrouping a 3-hour meeting after one edit then costs little.
    const old = new Map();
    for (const t of turns) if (t.objs.length) old.set(t.objs[0], t);
    let cur = null;
    for (let i = 0; i < segs.length; i++) {
      const sg = segs[i];
      if (!sg || segInfo(sg).blank) continue;
      const name = nameOf(str(labels[i]));
      const startMs = toMs(sg.start), endMs = toMs(sg.end);
      let brk = cur === null || sg.new_turn === true || name !== cur.name;
      if (!brk && sg.new_turn !== false) {
        brk = startMs - cur.endMs > (name === UNKNOWN ? UNKNOWN_PAUSE_MS : TURN_PAUSE_MS);
      }
      if (brk) {
        cur = { segs: [], name, start: num(sg.start), end: num(sg.end), endMs };
        out.push(cur);
      }
      cur.segs.push(i);
      if (endMs > cur.endMs) cur.endMs = endMs;
      if (num(sg.end) > cur.end) cur.end = num(sg.end);
    }
    for (let j = 0; j < out.length; j++) {
      const t = out[j], prev = old.get(segs[t.segs[0]]);
      if (prev && prev.name === t.name && prev.objs.length === t.segs.length &&
          t.segs.every((i, k) => segs[i] === prev.objs[k])) {
        prev.segs = t.segs;
        for (let k = 0; k < t.segs.length; k++) prev.pieces[k].seg = t.segs[k];
        out[j] = prev;
      } else fillTurn(t);
    }
    return out;
  }

  // Text, pieces (where each segment sits in the text) and marks of a turn, from its segments.
  function fillTurn(t) {
    let text = '', reviewed = true;
    const pieces = [], mref = [], objs = [];
    for (const i of t.segs) {
      const sg = doc.segments[i], c = segInfo(sg), body = c.body;
      objs.push(sg);
      let sep = 0;
      if (body && text && asciiAlnum(text.charCodeAt(text.length - 1)) && asciiAlnum(body.charCodeAt(0))) {
        text += ' ';
        sep = 1;
      }
      const k = pieces.length, start = text.length;
      pieces.push({ seg: i, start, len: body.length, sep, lead: c.lead, trail: c.trail });
      for (let j = 0; j < c.mk.length; j += 2) mref.push({ k, s: start + c.mk[j], e: start + c.mk[j + 1] });
      text += body;
      if (sg.reviewed !== true) reviewed = false;
    }
    // Overlapping or touching marks are shown (and visited) as one.
    const sorted = mref.length > 1 ? mref.slice().sort((x, y) => x.s - y.s) : mref, marks = [];
    for (const m of sorted) {
      const n = marks.length;
      if (n && m.s <= marks[n - 1]) marks[n - 1] = Math.max(marks[n - 1], m.e);
      else marks.push(m.s, m.e);
    }
    t.text = text;
    t.objs = objs;
    t.pieces = pieces;
    t.mref = mref;
    t.marks = marks;
    t.reviewed = reviewed && t.segs.length > 0;
    t.key = t.name + '\u0000' + t.start + '\u0000' + (t.reviewed ? 1 : 0) + '\u0000' + marks.join(',') + '\u0000' + text;
  }

  function findTurnAt(time) {
    // Last turn whose start <= time (binary search; turns follow the recording).
    let lo = 0, hi = turnStarts.length - 1, ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (turnStarts[mid] <= time + 1e-3) { ans = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return ans;
  }

  // Time of a character offset in a turn: linear within the segment holding it.
  function timeAt(ti, off) {
    const t = turns[ti];
    if (!t) return 0;
    let p = null;
    for (const q of t.pieces) {
      if (q.len === 0) continue;
      if (!p || q.start <= off) p = q;
      if (q.start + q.len > off) break;
    }
    if (!p) return t.start;
    const sg = doc.segments[p.seg];
    const k = Math.min(Math.max(off - p.start, 0), p.len);
    return num(sg.start) + (num(sg.end) - num(sg.start)) * (k / p.len);
  }

  // ---------------------------------------------------------------- rendering
  function renderText(el, t) {
    const m = t.marks;
    if (!m.length) { el.textContent = t.text; return; }
    el.textContent = '';
    const f = document.createDocumentFragment();
    let pos = 0;
    for (let j = 0; j < m.length; j += 2) {
      if (m[j] > pos) f.appendChild(document.createTextNode(t.text.slice(pos, m[j])));
      const mk = document.createElement('mark');
      mk.textContent = t.text.slice(m[j], m[j + 1]);
      f.appendChild(mk);
      pos = m[j + 1];
    }
    if (pos < t.text.length) f.appendChild(document.createTextNode(t.text.slice(pos)));
    el.appendChild(f);
  }

  // A turn as markup: a whole block of turns is parsed at once, much faster than building
  // thousands of nodes one by one when the page opens.
  const TPL_TOOLS = '<span class="tools">' +
    '<button type="button" class="tool" data-act="split" tabindex="-1" title="カーソル位置で分割（Alt+Enter）">分割</button>' +
    '<button type="button" class="tool" data-act="merge" tabindex="-1" title="前の発言と結合（Alt+Backspace）">結合</button></span>';
  function turnHtml(t, i) {
    let text = '';
    const m = t.marks;
    let pos = 0;
    for (let j = 0; j < m.length; j += 2) {
      text += esc(t.text.slice(pos, m[j])) + '<mark>' + esc(t.text.slice(m[j], m[j + 1])) + '</mark>';
      pos = m[j + 1];
    }
    text += esc(t.text.slice(pos));
    return '<article class="turn' + (t.reviewed ? ' reviewed' : '') + '" data-turn="' + i + '"><div class="meta">' +
      '<button type="button" class="spk' + (isUnnamed(t.name) ? ' unnamed" title="名前が未確定です。クリックして候補から選べます"' : '" title="話者メニュー（Alt+K）"') +
      ' data-field="speaker" aria-haspopup="dialog" style="--hue:' +
      hueOf(t.name) + '">' + esc(t.name) + '</button><div class="sub"><button type="button" class="time" tabindex="-1" title="この発言の頭から再生">' +
      hms(t.start) + '</button>' + TPL_TOOLS + '</div></div>' +
      '<div class="text" data-field="text" contenteditable="true" spellcheck="false">' + text + '</div>' +
      '<label class="rev" title="確認済み（Alt+R）"><input type="checkbox" class="rev-box"' + (t.reviewed ? ' checked' : '') +
      '><span>確認済み</span></label></article>';
  }

  const parser = document.createElement('template');
  function makeTurnEl(t, i) {
    parser.innerHTML = turnHtml(t, i);
    return parser.content.firstChild;
  }

  // ---------------------------------------------------------------- markers
  // Points marked while recording (doc.markers, read-only): a row between turns, where the
  // exports put them (export::with_markers): before the first turn that starts at or after
  // the point, in whole milliseconds; after the last turn if none. Not a turn: no data-turn,
  // not editable, and doc.markers goes back to the server exactly as it came.
  function readMarkers() {
    const src = Array.isArray(doc.markers) ? doc.markers : [];
    const out = [];
    src.forEach((m, i) => {
      if (!m || typeof m !== 'object' || typeof m.at !== 'number' || !isFinite(m.at)) return;
      const label = str(m.label);
      out.push({ i, at: m.at, ms: toMs(m.at), label: isBlank(label) ? '目印' : label.trim(), el: null, slot: -1 });
    });
    // They should come sorted by time; a stable sort keeps the file's order among equals.
    out.sort((a, b) => a.ms - b.ms || a.i - b.i);
    return out;
  }
  function markerHtml(m) {
    return '<div class="marker" data-marker="' + m.i + '" title="この目印から再生"><span class="marker-dia" aria-hidden="true">◆</span> ' +
      '<span class="marker-label">' + esc(m.label) + '</span><span class="marker-time">（' + hms(m.ms / 1000) + '）</span></div>';
  }
  // Index of the first turn starting at or after `ms` (turns.length if none).
  function markerSlot(ms) {
    let lo = 0, hi = turnStarts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (toMs(turnStarts[mid]) >= ms) hi = mid; else lo = mid + 1;
    }
    return lo;
  }
  // Moves the marker rows where the turns now put them (after a regroup); a few DOM checks
  // when nothing moved. Rows stay inside the blocks, with the turn they precede.
  function placeMarkers() {
    if (!markers.length) return;
    const emptied = [];
    for (let q = markers.length - 1; q >= 0; q--) {
      const m = markers[q], k = markerSlot(m.ms), nx = markers[q + 1];
      m.slot = k;
      if (!m.el) { parser.innerHTML = markerHtml(m); m.el = parser.content.firstChild; }
      const from = m.el.parentNode;
      const anchor = nx && nx.slot === k ? nx.el : k < turnEls.length ? turnEls[k] : null;
      if (anchor) {
        if (m.el.nextElementSibling === anchor) continue;
        anchor.parentNode.insertBefore(m.el, anchor);
      } else {
        // After the last turn: at the end of its block (or of the last block).
        let chunk = turnEls.length ? turnEls[turnEls.length - 1].parentNode : list.lastElementChild;
        if (!chunk) chunk = list.appendChild(newChunk());
        if (m.el.parentNode === chunk && !m.el.nextElementSibling) continue;
        chunk.appendChild(m.el);
      }
      if (from && from !== m.el.parentNode) emptied.push(from);
    }
    for (const c of emptied) if (!c.firstChild && c.parentNode === list) c.remove();
  }
  list.addEventListener('mousedown', (e) => { if (e.target.closest('[data-marker]')) e.preventDefault(); });

  // The text element is the turn's second child (see turnHtml).
  const textOf = (el) => el.firstChild.nextSibling;
  const textElOfTurn = (ti) => (turnEls[ti] ? textOf(turnEls[ti]) : null);

  function renderAll() {
    rendering = true;
    turns = computeTurns();
    turnStarts = Float64Array.from(turns, (t) => t.start);
    markers = readMarkers();
    for (const m of markers) m.slot = markerSlot(m.ms);
    const f = document.createDocumentFragment();
    turnEls = new Array(turns.length);
    let q = 0; // next marker to draw; each goes in with the block of the turn it precedes
    for (let i = 0; i < turns.length || (i === 0 && markers.length); i += CHUNK) {
      const chunk = f.appendChild(newChunk()), end = Math.min(i + CHUNK, turns.length);
      let html = '', q0 = q;
      for (let j = i; j < end; j++) {
        while (q < markers.length && markers[q].slot <= j) html += markerHtml(markers[q++]);
        html += turnHtml(turns[j], j);
      }
      if (end >= turns.length) while (q < markers.length) html += markerHtml(markers[q++]);
      chunk.innerHTML = html;
      let j = i;
      for (let el = chunk.firstElementChild; el; el = el.nextElementSibling) {
        if (el.hasAttribute('data-turn')) turnEls[j++] = el;
        else markers[q0++].el = el;
      }
    }
    list.textContent = '';
    list.appendChild(f);
    domStale.clear();
    structureStale = false;
    rendering = false;
    afterTurnsChanged();
  }

  function newChunk() {
    const c = document.createElement('div');
    c.className = 'chunk';
    return c;
  }
  // Splits a block that grew too big (many splits, a large undo) back into CHUNK-sized ones.
  function rechunk(chunk) {
    const kids = Array.from(chunk.children);
    let after = chunk;
    for (let i = CHUNK; i < kids.length; i += CHUNK) {
      const c = newChunk();
      for (const el of kids.slice(i, i + CHUNK)) c.appendChild(el);
      after.after(c);
      after = c;
    }
  }

  // Regroups and replaces only the turns that changed (common prefix and suffix kept).
  function rerender() {
    rendering = true;
    const old = turns, next = computeTurns();
    const n0 = old.length, n1 = next.length;
    const stale = domStale.size > 0;
    const same = (i, j) => (old[i] === next[j] || old[i].key === next[j].key) && !(stale && domStale.has(textOf(turnEls[i])));
    let a = 0;
    while (a < n0 && a < n1 && same(a, a)) a++;
    let b = 0;
    while (b < n0 - a && b < n1 - a && same(n0 - 1 - b, n1 - 1 - b)) b++;
    const before = n0 - b < n0 ? turnEls[n0 - b] : null;
    for (let i = a; i < n0 - b; i++) {
      const el = turnEls[i], chunk = el.parentNode;
      domStale.delete(textOf(el));
      el.remove();
      if (chunk !== (before && before.parentNode) && !chunk.firstChild) chunk.remove();
    }
    const f = document.createDocumentFragment(), made = [];
    for (let i = a; i < n1 - b; i++) { const el = makeTurnEl(next[i], i); made.push(el); f.appendChild(el); }
    if (made.length) {
      let chunk = before ? before.parentNode : list.lastElementChild;
      if (!chunk) chunk = list.appendChild(newChunk());
      chunk.insertBefore(f, before);
      if (chunk.childElementCount > 2 * CHUNK) rechunk(chunk);
    }
    turnEls = turnEls.slice(0, a).concat(made, turnEls.slice(n0 - b));
    if (n0 !== n1) for (let i = n1 - b; i < n1; i++) turnEls[i].setAttribute('data-turn', String(i));
    turns = next;
    structureStale = false;
    rendering = false;
    afterTurnsChanged();
  }

  function afterTurnsChanged() {
    turnStarts = Float64Array.from(turns, (t) => t.start);
    placeMarkers();
    marksFlat = null;
    byId('empty').hidden = turns.length > 0;
    updateProgress();
    updateMarkCount();
    if (currentEl && !currentEl.isConnected) currentEl = null;
    updateCurrent(false, true);
  }

  function updateProgress() {
    let n = 0, all = 0, done = 0;
    for (const t of turns) {
      const d = Math.max(0, t.end - t.start);
      all += d;
      if (t.reviewed) { n++; done += d; }
    }
    const pct = all > 0 ? Math.round((100 * done) / all) : 0;
    progressEl.textContent = '確認済み ' + n + '/' + turns.length + ' 発言（時間 ' + pct + '%）';
    progressEl.style.setProperty('--p', pct + '%');
  }

  function allMarks() {
    if (!marksFlat) {
      marksFlat = [];
      for (let i = 0; i < turns.length; i++) {
        const m = turns[i].marks;
        for (let j = 0; j < m.length; j += 2) marksFlat.push(i, m[j], m[j + 1]);
      }
    }
    return marksFlat;
  }
  function updateMarkCount(at) {
    let n = 0;
    for (const t of turns) n += t.marks.length / 2;
    markCountEl.textContent = n ? (at ? '要確認 ' + at + '/' + n : '要確認 ' + n + '箇所') : '要確認箇所なし';
  }

  // ---------------------------------------------------------------- caret
  function textElOf(node) {
    const el = node && (node.nodeType === 1 ? node : node.parentNode);
    const t = el && el.closest ? el.closest('[data-field="text"]') : null;
    return t && list.contains(t) ? t : null;
  }
  const turnIndexOf = (el) => parseInt(el.closest('[data-turn]').getAttribute('data-turn'), 10);
  function offsetIn(el, node, off) {
    const r = document.createRange();
    r.selectNodeContents(el);
    r.setEnd(node, off);
    return r.toString().length;
  }
  function caretInfo() {
    const sel = window.getSelection();
    if (!sel || !sel.rangeCount) return null;
    const r = sel.getRangeAt(0);
    const el = textElOf(r.startContainer);
    if (!el || textElOf(r.endContainer) !== el) return null;
    return { turn: turnIndexOf(el), start: offsetIn(el, r.startContainer, r.startOffset), end: offsetIn(el, r.endContainer, r.endOffset) };
  }
  // The caret if it is in a turn's text now, else null.
  function focusedCaret() {
    const a = document.activeElement;
    return a && textElOf(a) ? caretInfo() : null;
  }
  function posAt(el, off) {
    const w = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let n, last = null;
    while ((n = w.nextNode())) {
      if (off <= n.length) return { node: n, off };
      off -= n.length;
      last = n;
    }
    return last ? { node: last, off: last.length } : { node: el, off: 0 };
  }
  function setCaret(ti, start, end) {
    const el = textElOfTurn(ti);
    if (!el) return;
    const len = el.textContent.length;
    start = Math.max(0, Math.min(start, len));
    end = end == null ? start : Math.max(start, Math.min(end, len));
    el.focus({ preventScroll: true });
    const a = posAt(el, start), b = posAt(el, end), r = document.createRange();
    r.setStart(a.node, a.off);
    r.setEnd(b.node, b.off);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(r);
    lastCaret = { turn: ti, start, end };
  }
  function restoreCaret(c) {
    if (!c || !turns.length) return;
    const ti = Math.min(c.turn, turns.length - 1);
    setCaret(ti, c.start, c.end);
    keepVisible(turnEls[ti]);
  }
  // Whether el is wholly inside the scrolling box (with a margin at the bottom).
  function inView(el, bottomMargin) {
    const r = el.getBoundingClientRect(), box = scroller.getBoundingClientRect();
    return r.top >= box.top && r.bottom <= box.bottom - bottomMargin;
  }
  function keepVisible(el) {
    if (el && !inView(el, 8)) el.scrollIntoView({ block: 'center' });
  }

  // ---------------------------------------------------------------- undo
  function snapshot() {
    return {
      segments: doc.segments.slice(),
      labels: doc.labels.slice(),
      meeting: doc.meeting === undefined ? undefined : JSON.stringify(doc.meeting),
      caret: focusedCaret() || lastCaret,
    };
  }
  function pushUndo(s) {
    undoStack.push(s || snapshot());
    if (undoStack.length > UNDO_LIMIT) undoStack.shift();
    redoStack = [];
    updateUndoButtons();
  }
  function beginBurst(key) {
    const now = Date.now();
    if (!burst || burst.key !== key || now - burst.at > BURST_GAP_MS) pushUndo();
    burst = { key, at: now };
  }
  function restore(s) {
    doc.segments = s.segments.slice();
    doc.labels = s.labels.slice();
    if (s.meeting !== undefined) doc.meeting = JSON.parse(s.meeting);
    closeMenu(false);
    rerender();
    renderHeader();
    markChanged();
    restoreCaret(s.caret);
  }
  function undo() {
    settle();
    burst = null;
    if (!undoStack.length) { toast('元に戻す操作はありません'); return; }
    const s = undoStack.pop();
    redoStack.push(snapshot());
    restore(s);
    updateUndoButtons();
  }
  function redo() {
    settle();
    burst = null;
    if (!redoStack.length) { toast('やり直す操作はありません'); return; }
    const s = redoStack.pop();
    undoStack.push(snapshot());
    restore(s);
    updateUndoButtons();
  }
  function updateUndoButtons() {
    undoBtn.disabled = !undoStack.length;
    redoBtn.disabled = !redoStack.length;
  }

  // Runs one editing operation: one undo step, then regroup and re-render what changed.
  // `mutate` returns false when there was nothing to do.
  function operation(mutate) {
    settle();
    const before = snapshot();
    const result = mutate();
    if (result === false) return false;
    burst = null;
    pushUndo(before);
    rerender();
    markChanged();
    return result;
  }
  // Brings the page in line with the model after typing emptied a segment.
  function settle() {
    if (!structureStale) return;
    const c = focusedCaret();
    rerender();
    if (c) restoreCaret(c);
  }

  // ---------------------------------------------------------------- typing
  // Applies what the browser changed in a turn's text to its segments, without touching
  // the element (the caret must not jump): common prefix/suffix against the model's text.
  function applyTextEdit(el) {
    if (!el.isConnected) return;
    const ti = turnIndexOf(el), t = turns[ti];
    if (!t) return;
    const oldText = t.text, newText = el.textContent;
    if (oldText === newText) return;
    let p = 0;
    const min = Math.min(oldText.length, newText.length);
    while (p < min && oldText.charCodeAt(p) === newText.charCodeAt(p)) p++;
    let q = 0;
    while (q < min - p && oldText.charCodeAt(oldText.length - 1 - q) === newText.charCodeAt(newText.length - 1 - q)) q++;
    // Never cut a surrogate pair.
    if (p > 0 && (oldText.charCodeAt(p - 1) & 0xfc00) === 0xd800) p--;
    if (q > 0 && (oldText.charCodeAt(oldText.length - q) & 0xfc00) === 0xdc00) q--;
    let oldEnd = oldText.length - q, newEnd = newText.length - q;
    // A repeated character makes the place of an insertion or deletion ambiguous; the
    // caret says where it happened (it matters for which segment gets the text).
    const c = caretInfo();
    if (c && c.turn === ti && c.start === c.end) {
      const d = newEnd - p;
      if (oldEnd === p && d > 0 && c.start !== newEnd && c.start >= d &&
          newText.slice(0, c.start - d) + newText.slice(c.start) === oldText) {
        p = oldEnd = c.start - d;
        newEnd = c.start;
      } else if (newEnd === p && oldEnd > p && c.start !== p) {
        const del = oldEnd - p;
        if (oldText.slice(0, c.start) + oldText.slice(c.start + del) === newText) {
          p = newEnd = c.start;
          oldEnd = c.start + del;
        }
      }
    }
    const delta = newEnd - oldEnd;
    beginBurst('t' + ti);

    // Segment boundaries: before the change they stay, after it they shift, inside it they
    // clamp to its start. A boundary is where a piece's text starts (after a seam space).
    const P = t.pieces, nb = new Array(P.length);
    nb[0] = 0;
    for (let k = 1; k < P.length; k++) {
      const b = P[k].start;
      nb[k] = b >= oldEnd ? b + delta : b <= p ? b : p;
    }
    // Marks touching the change are dropped (the reviewer is fixing them); later ones shift.
    const kept = [];
    for (const m of t.mref) {
      if (m.e <= p) kept.push(m);
      else if (m.s >= oldEnd) kept.push({ k: m.k, s: m.s + delta, e: m.e + delta });
    }
    let emptied = false;
    for (let k = 0; k < P.length; k++) {
      const pc = P[k];
      let body = newText.slice(nb[k], k + 1 < P.length ? nb[k + 1] : newText.length);
      if (k + 1 < P.length && P[k + 1].sep && body.endsWith(' ')) body = body.slice(0, -1);
      const oldBody = oldText.slice(pc.start, pc.start + pc.len);
      if (body === oldBody) continue;
      const sg = doc.segments[pc.seg], s = str(sg.text);
      const text = s.slice(0, pc.lead) + body + s.slice(s.length - pc.trail);
      const patch = { text };
      const marks = [];
      for (const m of kept) {
        if (m.k !== k) continue;
        const a = m.s - nb[k] + pc.lead, b = m.e - nb[k] + pc.lead;
        if (a >= pc.lead && b <= pc.lead + body.length && a < b) {
          marks.push({ start: u16ToCp(text, a), end: u16ToCp(text, b) });
        }
      }
      if (hasOwn(sg, 'marks') || marks.length) patch.marks = marks;
      doc.segments[pc.seg] = Object.assign({}, sg, patch);
      if (isBlank(body)) emptied = true;
    }
    fillTurn(t);
    if (emptied) structureStale = true;
    domStale.add(el);
    marksFlat = null;
    markChanged();
  }

  // ---------------------------------------------------------------- operations
  function setReviewed(ti, value) {
    const t = turns[ti];
    if (!t) return;
    operation(() => {
      for (const i of t.segs) doc.segments[i] = Object.assign({}, doc.segments[i], { reviewed: value });
    });
  }

  function renameSpeaker(oldName, newName) {
    newName = newName.trim();
    if (!newName) { toast('名前を入力してください'); return false; }
    if (newName === oldName) return false;
    return operation(() => {
      const names = ensureNames();
      const targets = Array.from(allLabels()).filter((l) => nameOf(l) === oldName);
      if (!targets.length) return false;
      for (const l of targets) names[l] = newName;
    });
  }

  function assignTurn(ti, name) {
    name = name.trim();
    const t = turns[ti];
    if (!t) return false;
    if (!name) { toast('話者名を入力してください'); return false; }
    if (name === t.name) return false;
    const first = t.segs[0];
    const ok = operation(() => {
      let label = labelForName(name);
      if (label === null) {
        label = newLabel();
        ensureNames()[label] = name;
      }
      for (const i of t.segs) doc.labels[i] = label;
    });
    if (ok !== false) focusSegment(first, 0);
    return ok;
  }

  function mergeWithPrevious(ti) {
    const t = turns[ti], prev = turns[ti - 1];
    if (!t) return false;
    if (!prev) { toast('最初の発言です。前の発言はありません'); return false; }
    const seam = prev.text.length;
    const first = prev.segs[0];
    const ok = operation(() => {
      const label = doc.labels[prev.segs[prev.segs.length - 1]];
      // new_turn:false on the first segment joins across any pause; later ones need it
      // only where their pause would still break the turn under the new name.
      const limit = nameOf(label) === UNKNOWN ? UNKNOWN_PAUSE_MS : TURN_PAUSE_MS;
      let endMs = prev.endMs;
      t.segs.forEach((i, k) => {
        const sg = doc.segments[i];
        doc.labels[i] = label;
        if (k === 0 || (sg.new_turn !== false && toMs(sg.start) - endMs > limit) || sg.new_turn === true) {
          doc.segments[i] = Object.assign({}, sg, { new_turn: false });
        }
        endMs = Math.max(endMs, toMs(sg.end));
      });
    });
    if (ok !== false) focusSegment(first, seam);
    return ok;
  }

  // Splits turn ti at character `off`: between segments by new_turn, else inside a
  // segment, which becomes two with times shared out by characters.
  function splitTurn(ti, off) {
    const t = turns[ti];
    if (!t) return false;
    const P = t.pieces.filter((pc) => pc.len > 0);
    if (off <= 0 || off >= t.text.length || P.length === 0) {
      toast('分割する位置（発言の途中）にカーソルを置いてください');
      return false;
    }
    let boundary = -1, inside = null;
    for (let k = 0; k < P.length; k++) {
      const pc = P[k];
      if (k > 0 && off >= P[k - 1].start + P[k - 1].len && off <= pc.start) { boundary = pc.seg; break; }
      if (off > pc.start && off < pc.start + pc.len) { inside = pc; break; }
    }
    if (boundary < 0 && !inside) return false;
    let newSeg = boundary;
    const ok = operation(() => {
      if (boundary >= 0) {
        doc.segments[boundary] = Object.assign({}, doc.segments[boundary], { new_turn: true });
        return;
      }
      const i = inside.seg, sg = doc.segments[i], s = str(sg.text);
      let cut = inside.lead + (off - inside.start); // UTF-16 offset in the segment text
      if ((s.charCodeAt(cut) & 0xfc00) === 0xdc00) cut++; // never between a surrogate pair
      const a = s.slice(0, cut), b = s.slice(cut);
      const cpCut = cpLen(a), cpAll = cpLen(s);
      const start = num(sg.start), end = num(sg.end);
      const at = Math.round((start + (end - start) * (cpAll ? cpCut / cpAll : 0.5)) * 1000) / 1000;
      const m1 = [], m2 = [];
      if (Array.isArray(sg.marks)) {
        for (const m of sg.marks) {
          if (!m || !Number.isFinite(m.start) || !Number.isFinite(m.end)) continue;
          if (m.start < cpCut) m1.push(Object.assign({}, m, { end: Math.min(m.end, cpCut) }));
          if (m.end > cpCut) m2.push(Object.assign({}, m, { start: Math.max(m.start, cpCut) - cpCut, end: m.end - cpCut }));
        }
      }
      const first = Object.assign({}, sg, { end: Math.max(start, at), text: a });
      const second = Object.assign({}, sg, { start: Math.min(end, at), text: b });
      if (hasOwn(sg, 'marks')) { first.marks = m1; second.marks = m2; }
      if (hasOwn(sg, 'raw_text')) second.raw_text = '';
      second.new_turn = true;
      doc.segments.splice(i, 1, first, second);
      doc.labels.splice(i + 1, 0, doc.labels[i]);
      newSeg = i + 1;
    });
    if (ok === false) return false;
    const nt = focusSegment(newSeg, 0);
    // A new turn usually belongs to someone else: offer the speaker choice right away.
    if (nt >= 0) openMenu(nt, { afterSplit: true });
    return true;
  }

  // Puts the caret in the turn holding segment `seg`; returns that turn's index.
  function focusSegment(seg, off) {
    const ti = turns.findIndex((t) => t.segs.indexOf(seg) >= 0);
    if (ti >= 0) {
      setCaret(ti, off);
      keepVisible(turnEls[ti]);
    }
    return ti;
  }

  // The turn keyboard operations act on: the caret's, else the one playing.
  function targetTurn() {
    const c = focusedCaret();
    if (c) return c.turn;
    if (menuTurn >= 0) return menuTurn;
    return currentEl ? turnIndexOf(currentEl) : -1;
  }
  function caretFor(ti) {
    const c = focusedCaret();
    if (c && c.turn === ti) return c.start;
    if (lastCaret && lastCaret.turn === ti) return lastCaret.start;
    return -1;
  }
  function splitAtCaret(ti) {
    settle();
    if (ti == null) { const c = focusedCaret(); ti = c ? c.turn : -1; }
    const off = ti >= 0 ? caretFor(ti) : -1;
    if (off < 0) { toast('分割する位置の本文をクリックしてから実行してください'); return; }
    closeMenu(false);
    splitTurn(ti, off);
  }

  // ---------------------------------------------------------------- speaker menu
  function openMenu(ti, opts) {
    settle();
    const t = turns[ti];
    if (!t) return;
    opts = opts || {};
    menuTurn = ti;
    const count = turns.reduce((n, x) => n + (x.name === t.name ? 1 : 0), 0);
    const others = speakerChoices().filter((c) => c.name !== t.name);
    menuEl.innerHTML =
      (opts.afterSplit ? '<p class="menu-note">分割しました。新しい発言の話者を選べます（Escで閉じる）。</p>' : '') +
      '<div class="menu-head"><span class="menu-who" style="--hue:' + hueOf(t.name) + '">' + esc(t.name) + '</span>' +
      '<span class="menu-time">' + hms(t.start) + ' からの発言</span></div>' +
      candidatesHtml(t) +
      '<section><h3>この発言を別の話者に</h3>' +
      (others.length
        ? '<div class="choices">' + others.map((c) =>
            '<button type="button" class="choice" data-name="' + esc(c.name) + '">' + esc(c.name) +
            (c.count ? '<small>' + c.count + '</small>' : '') + '</button>').join('') + '</div>'
        : '') +
      '<form class="row" data-form="assign"><input name="name" type="text" list="speaker-names" placeholder="新しい話者名" autocomplete="off">' +
      '<button type="submit" class="btn">割り当て</button></form></section>' +
      '<section><h3>名前を変更（全体）</h3><p class="hint">「' + esc(t.name) + '」の発言 ' + count + '件すべての表示名を変えます。</p>' +
      '<form class="row" data-form="rename"><input name="name" type="text" value="' + esc(t.name) + '" autocomplete="off">' +
      '<button type="submit" class="btn">変更</button></form></section>' +
      '<section class="menu-actions">' +
      '<button type="button" class="btn" data-act="merge"' + (ti === 0 ? ' disabled' : '') + '>前の発言と結合</button>' +
      '<button type="button" class="btn" data-act="split">ここで分割（カーソル位置）</button></section>';
    fillNameList();
    menuEl.hidden = false;
    // The menu lives in the scrolling box, so it scrolls along with its turn.
    const btn = turnEls[ti].querySelector('[data-field="speaker"]');
    const r = btn.getBoundingClientRect(), box = scroller.getBoundingClientRect();
    const w = menuEl.offsetWidth, h = menuEl.offsetHeight;
    const left = Math.max(8, Math.min(r.left - box.left, box.width - w - 16));
    let top = r.bottom - box.top + 6;
    if (top + h > box.height - 8 && r.top - box.top - h - 6 > 0) top = r.top - box.top - h - 6;
    menuEl.style.left = left + scroller.scrollLeft + 'px';
    menuEl.style.top = top + scroller.scrollTop + 'px';
    const input = menuEl.querySelector(opts.afterSplit ? '[data-form="assign"] input' : '[data-form="assign"] input');
    input.focus({ preventScroll: true });
  }
  function fillNameList() {
    const dl = byId('speaker-names'), seen = new Set();
    let html = '';
    const add = (n) => { n = str(n).trim(); if (n && !seen.has(n)) { seen.add(n); html += '<option value="' + esc(n) + '">'; } };
    for (const c of speakerChoices()) add(c.name);
    const m = doc.meeting || {};
    for (const k of PEOPLE) if (Array.isArray(m[k])) for (const p of m[k]) if (p && typeof p === 'object') add(p['職']);
    dl.innerHTML = html;
  }
  function closeMenu(refocus) {
    if (menuEl.hidden) return;
    const ti = menuTurn;
    menuEl.hidden = true;
    menuEl.innerHTML = '';
    menuTurn = -1;
    if (refocus && turns[ti]) {
      const c = lastCaret && lastCaret.turn === ti ? lastCaret : { turn: ti, start: 0, end: 0 };
      setCaret(ti, c.start, c.end);
    }
  }
  menuEl.addEventListener('submit', (e) => {
    e.preventDefault();
    const form = e.target, ti = menuTurn, t = turns[ti];
    if (!t) return;
    const value = form.elements.name.value;
    if (form.dataset.form === 'assign') {
      if (assignTurn(ti, value) !== false) closeMenu(false);
    } else if (form.dataset.form === 'rename') {
      const caret = lastCaret;
      if (renameSpeaker(t.name, value) !== false) { closeMenu(false); if (caret) restoreCaret(caret); }
    }
  });
  menuEl.addEventListener('click', (e) => {
    const ti = menuTurn;
    const choice = e.target.closest('.choice');
    if (choice) { if (assignTurn(ti, choice.dataset.name) !== false) closeMenu(false); return; }
    const cand = e.target.closest('.cand');
    if (cand) {
      const t = turns[ti], caret = lastCaret;
      if (t && renameSpeaker(t.name, cand.dataset.cand) !== false) { closeMenu(false); if (caret) restoreCaret(caret); }
      return;
    }
    const act = e.target.closest('[data-act]');
    if (!act) return;
    if (act.dataset.act === 'merge') { closeMenu(false); mergeWithPrevious(ti); }
    else if (act.dataset.act === 'split') splitAtCaret(ti);
  });
  document.addEventListener('mousedown', (e) => {
    if (!menuEl.hidden && !menuEl.contains(e.target) && !e.target.closest('[data-field="speaker"]')) closeMenu(false);
  });

  // ---------------------------------------------------------------- events on turns
  list.addEventListener('click', (e) => {
    const mk = e.target.closest('[data-marker]');
    if (mk) {
      const m = markers.find((x) => x.el === mk);
      if (m) seekPlay(m.at);
      return;
    }
    const turnEl = e.target.closest('[data-turn]');
    if (!turnEl) return;
    const ti = turnIndexOf(turnEl);
    if (e.target.closest('[data-field="speaker"]')) {
      if (!menuEl.hidden && menuTurn === ti) closeMenu(false);
      else openMenu(ti);
      return;
    }
    const tool = e.target.closest('.tool');
    if (tool) {
      if (tool.dataset.act === 'split') splitAtCaret(ti);
      else { settle(); mergeWithPrevious(ti); }
      return;
    }
    if (e.target.closest('label, input') || (e.target.closest('button') && !e.target.closest('.time'))) return;
    const textEl = e.target.closest('[data-field="text"]');
    if (textEl) {
      const off = clickOffset(textEl, e);
      if (off !== null) seekPlay(timeAt(ti, off));
      return;
    }
    seekPlay(turns[ti] ? turns[ti].start : 0);
  });
  function clickOffset(el, e) {
    const sel = window.getSelection();
    if (sel && sel.rangeCount && el.contains(sel.anchorNode)) {
      if (!sel.isCollapsed) return null; // a selection is being made, not a click to listen
      return offsetIn(el, sel.anchorNode, sel.anchorOffset);
    }
    const r = document.caretRangeFromPoint ? document.caretRangeFromPoint(e.clientX, e.clientY) : null;
    return r && el.contains(r.startContainer) ? offsetIn(el, r.startContainer, r.startOffset) : 0;
  }
  // Keeps the caret in the text when a tool button is pressed.
  list.addEventListener('mousedown', (e) => { if (e.target.closest('.tool')) e.preventDefault(); });
  list.addEventListener('change', (e) => {
    if (!e.target.classList.contains('rev-box')) return;
    setReviewed(turnIndexOf(e.target), e.target.checked);
  });
  list.addEventListener('input', (e) => {
    const el = textElOf(e.target);
    if (!el) return;
    lastTypedAt = Date.now();
    if (e.isComposing) { composingDirty = true; updateSaveState(); return; } // applied at compositionend
    applyTextEdit(el);
  });
  list.addEventListener('compositionend', (e) => {
    const el = textElOf(e.target);
    composingDirty = false;
    if (el) applyTextEdit(el);
    updateSaveState();
  });
  list.addEventListener('beforeinput', (e) => {
    if (!textElOf(e.target)) return;
    const type = e.inputType || '';
    // A turn is one paragraph of plain text: no line breaks, no formatting, plain paste.
    if (type === 'insertParagraph' || type === 'insertLineBreak' || type.startsWith('format') ||
        type === 'insertFromDrop' || type === 'deleteByDrag') {
      e.preventDefault();
    } else if (type === 'insertFromPaste' || type === 'insertReplacementText') {
      const data = e.dataTransfer ? e.dataTransfer.getData('text/plain') : e.data;
      if (data == null) return;
      e.preventDefault();
      document.execCommand('insertText', false, data.replace(/\s*[\r\n]+\s*/g, ''));
    }
  });
  list.addEventListener('focusin', (e) => {
    const t = e.target.closest && e.target.closest('[data-turn]');
    if (t) t.classList.add('editing');
  });
  list.addEventListener('focusout', (e) => {
    const t = e.target.closest && e.target.closest('[data-turn]');
    if (t && !t.contains(e.relatedTarget)) t.classList.remove('editing');
    const el = textElOf(e.target);
    if (!el || rendering) return;
    if (burst && burst.key === 't' + turnIndexOf(el)) burst = null;
    // After the focus has settled: the caret may only have moved to a tool button.
    setTimeout(() => {
      if (!el.isConnected || document.activeElement === el) return;
      if (structureStale) rerender();
      else if (domStale.has(el)) { domStale.delete(el); renderText(el, turns[turnIndexOf(el)]); }
    }, 0);
  });
  document.addEventListener('selectionchange', () => {
    const a = document.activeElement;
    if (a && textElOf(a)) { const c = caretInfo(); if (c) lastCaret = c; }
  });

  // ---------------------------------------------------------------- audio
  function duration() {
    return isFinite(audio.duration) && audio.duration > 0 ? audio.duration : audioSeconds;
  }
  function seekTo(t) {
    t = Math.max(0, Math.min(t, duration() || t));
    audio.currentTime = t;
    updateClock();
    updateCurrent(false, false);
  }
  function seekPlay(t) {
    seekTo(t);
    const p = audio.play();
    if (p && p.catch) p.catch(() => toast('音声を再生できません'));
  }
  function togglePlay() {
    if (audio.paused) { const p = audio.play(); if (p && p.catch) p.catch(() => toast('音声を再生できません')); }
    else audio.pause();
  }
  function skip(d) { seekTo(audio.currentTime + d); }
  function setSpeed(v) {
    audio.playbackRate = v;
    audio.defaultPlaybackRate = v;
  }
  function updateSpeedButtons() {
    for (const b of document.querySelectorAll('[data-speed]')) {
      const on = Math.abs(parseFloat(b.dataset.speed) - audio.playbackRate) < 1e-6;
      b.classList.toggle('on', on);
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
    }
  }
  let seeking = false;
  function updateClock() {
    const d = duration();
    nowEl.textContent = hms(audio.currentTime);
    durEl.textContent = hms(d);
    if (!seeking) {
      seekEl.max = String(d || 0);
      seekEl.value = String(audio.currentTime);
    }
  }
  // Highlights the turn being played; keeps it in view unless the reviewer is busy (then it
  // catches up once they have stopped typing or scrolling for a while).
  let scrollPending = false;
  function updateCurrent(scroll, force) {
    const i = findTurnAt(audio.currentTime);
    const el = i >= 0 ? turnEls[i] : null;
    if (el !== currentEl || force) {
      if (currentEl) currentEl.classList.remove('current');
      currentEl = el;
      if (el) el.classList.add('current');
      scrollPending = !!el;
    }
    if (!scroll || !scrollPending || !el || audio.paused) return;
    const now = Date.now();
    if (now - lastTypedAt < TYPING_QUIET_MS || now - lastWheelAt < TYPING_QUIET_MS) return;
    scrollPending = false;
    if (!inView(el, 40)) {
      const r = el.getBoundingClientRect();
      const near = Math.abs(r.top - window.innerHeight / 2) < window.innerHeight * 2;
      el.scrollIntoView({ block: 'center', behavior: near ? 'smooth' : 'auto' });
    }
  }
  audio.addEventListener('timeupdate', () => { updateClock(); updateCurrent(true, false); });
  audio.addEventListener('seeked', () => { updateClock(); updateCurrent(false, false); });
  audio.addEventListener('loadedmetadata', updateClock);
  audio.addEventListener('durationchange', updateClock);
  audio.addEventListener('play', () => { document.body.classList.add('playing'); playBtn.querySelector('.play-label').textContent = '一時停止'; updateCurrent(true, true); });
  audio.addEventListener('pause', () => { document.body.classList.remove('playing'); playBtn.querySelector('.play-label').textContent = '再生'; });
  audio.addEventListener('ratechange', updateSpeedButtons);
  audio.addEventListener('error', () => toast('音声を読み込めません'));
  window.addEventListener('wheel', () => { lastWheelAt = Date.now(); }, { passive: true });
  window.addEventListener('touchmove', () => { lastWheelAt = Date.now(); }, { passive: true });

  playBtn.addEventListener('click', togglePlay);
  byId('back').addEventListener('click', () => skip(-SKIP_S));
  byId('fwd').addEventListener('click', () => skip(SKIP_S));
  for (const b of document.querySelectorAll('[data-speed]')) b.addEventListener('click', () => setSpeed(parseFloat(b.dataset.speed)));
  seekEl.addEventListener('input', () => { seeking = true; nowEl.textContent = hms(parseFloat(seekEl.value)); });
  seekEl.addEventListener('change', () => { seeking = false; seekTo(parseFloat(seekEl.value)); });
  byId('prev-mark').addEventListener('click', () => gotoMark(-1));
  byId('next-mark').addEventListener('click', () => gotoMark(1));
  undoBtn.addEventListener('click', undo);
  redoBtn.addEventListener('click', redo);
  // Buttons of the bars must not take the caret out of the text being edited.
  for (const b of document.querySelectorAll('.transport button, .edit-buttons button')) {
    b.addEventListener('mousedown', (e) => e.preventDefault());
  }

  // ---------------------------------------------------------------- marks
  function gotoMark(dir) {
    settle();
    const M = allMarks(), n = M.length / 3;
    if (!n) { toast('要確認箇所はありません'); return; }
    // From the caret; while listening, from the turn being played; else from the last caret.
    const playing = !audio.paused && currentEl ? { turn: turnIndexOf(currentEl), start: 0, end: 0 } : null;
    const ref = focusedCaret() || playing || lastCaret || (currentEl ? { turn: turnIndexOf(currentEl), start: 0, end: 0 } : null);
    const cmp = (k, t, o) => (M[3 * k] - t) || (M[3 * k + 1] - o);
    let idx = -1;
    if (dir > 0) {
      const t = ref ? ref.turn : -1, o = ref ? (ref.start === ref.end ? ref.start : ref.end) : 0;
      for (let k = 0; k < n; k++) if (cmp(k, t, o) >= 0) { idx = k; break; }
      if (idx < 0) { idx = 0; if (ref) toast('最後まで進んだので最初に戻りました'); }
    } else {
      const t = ref ? ref.turn : turns.length, o = ref ? ref.start : 0;
      for (let k = n - 1; k >= 0; k--) if (cmp(k, t, o) < 0) { idx = k; break; }
      if (idx < 0) { idx = n - 1; if (ref) toast('最初まで戻ったので最後に移りました'); }
    }
    const ti = M[3 * idx], s = M[3 * idx + 1], e = M[3 * idx + 2];
    turnEls[ti].scrollIntoView({ block: 'center' });
    setCaret(ti, s, e);
    seekTo(timeAt(ti, s));
    updateMarkCount(idx + 1);
  }

  // ---------------------------------------------------------------- keyboard
  document.addEventListener('keydown', (e) => {
    if (e.isComposing || e.keyCode === 229) return; // the IME owns these keys
    const ctrl = e.ctrlKey || e.metaKey;
    if (e.key === 'Escape' && !ctrl && !e.altKey && !e.shiftKey) {
      e.preventDefault();
      if (!menuEl.hidden) closeMenu(true);
      else togglePlay();
      return;
    }
    if (ctrl && !e.altKey) {
      const k = (e.key || '').toLowerCase();
      if (k === 's') { e.preventDefault(); saveNow(); }
      else if (k === 'z') { e.preventDefault(); if (e.shiftKey) redo(); else undo(); }
      else if (k === 'y') { e.preventDefault(); redo(); }
      return;
    }
    if (e.altKey && !ctrl) {
      let done = true;
      switch (e.code) {
        case 'ArrowLeft': skip(-SKIP_S); break;
        case 'ArrowRight': skip(SKIP_S); break;
        case 'ArrowUp': gotoMark(-1); break;
        case 'ArrowDown': gotoMark(1); break;
        case 'Digit1': case 'Numpad1': setSpeed(SPEEDS[0]); break;
        case 'Digit2': case 'Numpad2': setSpeed(SPEEDS[1]); break;
        case 'Digit3': case 'Numpad3': setSpeed(SPEEDS[2]); break;
        case 'Digit4': case 'Numpad4': setSpeed(SPEEDS[3]); break;
        case 'Enter': case 'NumpadEnter': splitAtCaret(); break;
        case 'Backspace': {
          settle();
          const c = focusedCaret();
          if (c) mergeWithPrevious(c.turn);
          else toast('結合する発言の本文にカーソルを置いてください');
          break;
        }
        case 'KeyR': {
          settle();
          const ti = targetTurn();
          if (ti >= 0) { const c = focusedCaret(); setReviewed(ti, !turns[ti].reviewed); if (c) restoreCaret(c); }
          break;
        }
        case 'KeyK': {
          const ti = targetTurn();
          if (ti >= 0) openMenu(ti);
          break;
        }
        default: done = false;
      }
      if (done) { e.preventDefault(); e.stopPropagation(); }
      return;
    }
    if (e.key === 'Enter' && textElOf(e.target)) e.preventDefault(); // one paragraph per turn
  }, true);
  // The browser's own undo (menu, gestures) would change the DOM behind the model's back.
  document.addEventListener('beforeinput', (e) => {
    if (e.inputType === 'historyUndo') { e.preventDefault(); undo(); }
    else if (e.inputType === 'historyRedo') { e.preventDefault(); redo(); }
  }, true);

  // ---------------------------------------------------------------- header fields
  function personLine(p) {
    if (typeof p === 'string') return p.trim();
    if (!p || typeof p !== 'object') return '';
    return [str(p['職']).trim(), str(p['氏名']).trim()].filter(Boolean).join(' ');
  }
  const normName = (s) => s.replace(/[\s\u3000]+/g, ' ').trim();
  // One person a line, `職 氏名`. Unchanged lines keep their object as it was; a changed
  // line whose 氏名 is known keeps that person's other fields (所属, 表記, よみ, 番号).
  function parsePeople(text, base) {
    const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
    const used = new Set(), out = new Array(lines.length);
    lines.forEach((line, i) => {
      const j = base.findIndex((p, j) => !used.has(j) && personLine(p) === line);
      if (j >= 0) { used.add(j); out[i] = base[j]; }
    });
    lines.forEach((line, i) => {
      if (out[i]) return;
      const m = /^(\S+)[\s\u3000]+(.+)$/.exec(line);
      const role = m ? m[1] : '', name = m ? m[2].trim() : line;
      const j = base.findIndex((p, j) => !used.has(j) && p && typeof p === 'object' && normName(str(p['氏名'])) === normName(name));
      if (j >= 0) { used.add(j); out[i] = Object.assign({}, base[j], { '職': role, '氏名': name }); }
      else out[i] = { '所属': '', '職': role, '氏名': name };
    });
    return out;
  }
  function toLocalInput(v) {
    const m = typeof v === 'string' ? /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2})?/.exec(v.trim()) : null;
    return m ? m[1] + 'T' + m[2] + (m[3] || ':00') : '';
  }
  // The server reads `YYYY-MM-DDTHH:MM:SS`; the input leaves out ":00" seconds.
  function fromLocalInput(s) {
    if (!s) return null;
    return s.length === 16 ? s + ':00' : s.slice(0, 19);
  }
  function renderHeader() {
    const m = doc.meeting && typeof doc.meeting === 'object' ? doc.meeting : {};
    for (const el of headerFields) {
      const k = el.dataset.m;
      let v;
      if (k === '開始' || k === '終了') v = toLocalInput(m[k]);
      else if (k === '議題') v = Array.isArray(m[k]) ? m[k].map(str).join('\n') : str(m[k]);
      else if (PEOPLE.indexOf(k) >= 0) v = Array.isArray(m[k]) ? m[k].map(personLine).join('\n') : '';
      else v = str(m[k]);
      if (el.value !== v) el.value = v;
      fitRows(el);
    }
    peopleBase = {};
    updateSummary();
  }
  // Lists show all their lines (within reason) instead of a scrollbar.
  function fitRows(el) {
    if (el.tagName !== 'TEXTAREA') return;
    const lines = el.value.split('\n').length;
    el.rows = Math.max(3, Math.min(12, lines + 1));
  }
  function updateSummary() {
    const m = doc.meeting || {};
    const parts = [str(m['会議名']) || '（会議名なし）'];
    const s = toLocalInput(m['開始']), e = toLocalInput(m['終了']);
    if (s) parts.push(s.slice(0, 10).replace(/-/g, '/') + ' ' + s.slice(11, 16) + (e ? '〜' + (e.slice(0, 10) === s.slice(0, 10) ? '' : e.slice(0, 10).replace(/-/g, '/') + ' ') + e.slice(11, 16) : ''));
    if (str(m['場所'])) parts.push(str(m['場所']));
    byId('meeting-summary').textContent = parts.join(' ・ ');
  }
  function onHeaderInput(el) {
    const k = el.dataset.m;
    const m = ensureMeeting();
    const before = snapshot();
    let value;
    if (k === '開始' || k === '終了') value = fromLocalInput(el.value);
    else if (k === '議題') value = el.value.split('\n').map((l) => l.trim()).filter(Boolean);
    else if (PEOPLE.indexOf(k) >= 0) value = parsePeople(el.value, peopleBase[k] || (Array.isArray(m[k]) ? m[k] : []));
    else value = el.value;
    if (JSON.stringify(value) === JSON.stringify(m[k])) return;
    const now = Date.now();
    if (!burst || burst.key !== 'm:' + k || now - burst.at > BURST_GAP_MS) pushUndo(before);
    burst = { key: 'm:' + k, at: now };
    m[k] = value;
    markChanged();
    updateSummary();
  }
  for (const el of headerFields) {
    el.addEventListener('input', () => { onHeaderInput(el); fitRows(el); });
    el.addEventListener('change', () => onHeaderInput(el));
    el.addEventListener('focus', () => {
      const k = el.dataset.m;
      if (PEOPLE.indexOf(k) >= 0) {
        const m = doc && doc.meeting;
        peopleBase[k] = m && Array.isArray(m[k]) ? m[k].slice() : [];
      }
    });
    el.addEventListener('blur', () => { if (burst && burst.key === 'm:' + el.dataset.m) burst = null; });
  }

  // ---------------------------------------------------------------- saving
  const unsaved = () => editSeq !== savedSeq || composingDirty || inFlight !== null;
  function markChanged() {
    editSeq++;
    updateSaveState();
    updateUndoButtons();
    scheduleSave();
  }
  function scheduleSave() {
    if (conflict) return;
    const now = Date.now();
    if (!dirtySince) dirtySince = now;
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveNow, Math.max(0, Math.min(AUTOSAVE_MS, dirtySince + AUTOSAVE_MAX_MS - now)));
  }
  function updateSaveState() {
    let text, cls;
    if (conflict) { text = '保存を止めました（別の画面で保存されています）：' + conflict; cls = 'err'; }
    else if (inFlight) { text = '保存中…'; cls = 'busy'; }
    else if (saveError) { text = '保存できません：' + saveError; cls = 'err'; }
    else if (editSeq !== savedSeq || composingDirty) { text = '未保存の変更があります'; cls = 'dirty'; }
    else { text = '保存済み'; cls = 'ok'; }
    if (saveStateEl.textContent !== text) saveStateEl.textContent = text;
    saveStateEl.className = 'save-state ' + cls;
    saveStateEl.title = text;
  }
  // One PUT at a time; a change made meanwhile is saved right after it.
  function saveNow() {
    clearTimeout(saveTimer);
    saveTimer = 0;
    if (conflict) { showConflict(); return Promise.resolve(false); }
    if (inFlight) { saveQueued = true; return inFlight.then(() => (editSeq === savedSeq && !saveError && !conflict)); }
    if (editSeq === savedSeq) { updateSaveState(); return Promise.resolve(!saveError); }
    const seq = editSeq;
    let body;
    try { body = JSON.stringify({ revision, doc }); }
    catch (err) { saveError = String(err); updateSaveState(); return Promise.resolve(false); }
    inFlight = fetch('/api/doc', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body,
      credentials: 'same-origin',
      cache: 'no-store',
    }).then(async (r) => {
      const j = await r.json().catch(() => ({}));
      if (r.ok && typeof j.revision === 'string') {
        revision = j.revision;
        savedSeq = seq;
        dirtySince = editSeq === seq ? 0 : Date.now();
        saveError = null;
        return true;
      }
      if (r.status === 409) {
        conflict = j.message || 'このファイルは別のタブか別のプログラムで保存されています。';
        return false;
      }
      saveError = j.message || 'サーバーがエラーを返しました（' + r.status + '）';
      return false;
    }, () => {
      saveError = 'サーバーに接続できません。gijiroku review が動いているか確かめてください';
      return false;
    }).then((ok) => {
      inFlight = null;
      updateSaveState();
      if (conflict) { clearTimeout(saveTimer); showConflict(); return false; }
      if (ok && editSeq !== savedSeq) {
        if (saveQueued) { saveQueued = false; return saveNow(); }
        scheduleSave();
      }
      saveQueued = false;
      return ok && editSeq === savedSeq;
    });
    updateSaveState();
    return inFlight;
  }
  // Everything on disk (the export reads the file); false if it cannot be.
  async function flushSave() {
    for (let n = 0; n < 20; n++) {
      if (conflict) return false;
      if (inFlight) { await inFlight; continue; }
      if (editSeq === savedSeq && !composingDirty) return !saveError;
      if (composingDirty) return false;
      const ok = await saveNow();
      if (!ok && (conflict || saveError)) return false;
    }
    return editSeq === savedSeq;
  }
  window.addEventListener('beforeunload', (e) => {
    if (allowUnload || !unsaved()) return;
    e.preventDefault();
    e.returnValue = '';
  });
  // Leaving the tab is a good moment to save what is pending.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden' && editSeq !== savedSeq && !conflict) saveNow();
  });

  function showConflict() {
    bannerEl.hidden = false;
    bannerEl.className = 'banner err';
    bannerEl.innerHTML =
      '<div class="banner-text"><strong>この画面の変更は保存できません。</strong>' +
      '<span>' + esc(conflict || '') + '</span>' +
      '<span>自動保存を止めました。再読み込みすると保存されている内容が表示されますが、この画面でまだ保存されていない変更は失われます。</span></div>' +
      '<div class="banner-actions"><button type="button" class="btn" data-act="copy">この画面の内容をコピー</button>' +
      '<button type="button" class="btn primary" data-act="reload">再読み込み</button></div>';
  }
  function showError(msg) {
    bannerEl.hidden = false;
    bannerEl.className = 'banner err';
    bannerEl.innerHTML = '<div class="banner-text"><strong>' + esc(msg) + '</strong></div>' +
      '<div class="banner-actions"><button type="button" class="btn primary" data-act="reload">再読み込み</button></div>';
  }
  bannerEl.addEventListener('click', async (e) => {
    const act = e.target.closest('[data-act]');
    if (!act) return;
    if (act.dataset.act === 'reload') {
      if (unsaved() && !confirm('再読み込みすると、この画面でまだ保存されていない変更は失われます。\n（先に「この画面の内容をコピー」で控えを取れます）\n\n再読み込みしますか？')) return;
      allowUnload = true;
      location.reload();
    } else if (act.dataset.act === 'copy') {
      const text = turns.map((t) => t.name + '（' + hms(t.start) + '）\n' + t.text).join('\n\n') + '\n';
      if (await copyText(text)) toast('この画面の発言をすべてコピーしました。メモ帳などに貼り付けて控えてください');
      else toast('コピーできませんでした');
    }
  });
  async function copyText(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); return true; }
    } catch (_) { /* fall back below */ }
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
    ta.remove();
    return ok;
  }

  // ---------------------------------------------------------------- export
  async function postExport(template, overwrite) {
    const r = await fetch('/api/export', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ template, overwrite }),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    const j = await r.json().catch(() => ({}));
    return { status: r.status, ok: r.ok, body: j };
  }
  function showExport(html, cls) {
    exportResultEl.hidden = false;
    exportResultEl.className = 'export-result ' + (cls || '');
    exportResultEl.innerHTML = html;
  }
  // 「会議.docx を上書きしますか？」: the server says `<path>: 既にあります`.
  function overwriteQuestion(body) {
    const msg = str(body.message);
    let name = str(body.file);
    if (!name) {
      const m = /^(.*?)\s*[:：]\s*既にあります/.exec(msg);
      if (m) name = m[1].split(/[\\/]/).pop();
    }
    return name ? name + ' を上書きしますか？' : (msg ? msg + '\n\n' : '') + '上書きしますか？';
  }
  async function doExport() {
    const template = templateEl.value;
    if (!template) return;
    exportBtn.disabled = true;
    try {
      showExport('保存しています…', 'busy');
      if (!(await flushSave())) {
        showExport('保存できないため書き出せません。' + esc(conflict || saveError || ''), 'err');
        return;
      }
      showExport('書き出しています…', 'busy');
      let res = await postExport(template, false);
      if (res.status === 409 && res.body.error === 'exists') {
        if (!confirm(overwriteQuestion(res.body))) { showExport('書き出しをやめました。', ''); return; }
        res = await postExport(template, true);
      }
      if (res.ok) {
        const file = res.body.file || 'DOCX';
        const href = typeof res.body.download === 'string' && res.body.download.charAt(0) === '/' ? res.body.download : '/download';
        showExport('<span>' + esc(file) + ' を書き出しました。</span> <a href="' + esc(href) + '" download="' + esc(file) + '">ダウンロード</a>' +
          (res.body.path ? '<span class="path">' + esc(res.body.path) + '</span>' : '') +
          '<button type="button" class="close" aria-label="閉じる" title="閉じる">×</button>', 'ok');
      } else {
        showExport('書き出せません：' + esc(res.body.message || 'エラー（' + res.status + '）'), 'err');
      }
    } catch (_) {
      showExport('書き出せません：サーバーに接続できません', 'err');
    } finally {
      exportBtn.disabled = false;
    }
  }
  exportBtn.addEventListener('click', doExport);
  exportResultEl.addEventListener('click', (e) => { if (e.target.closest('.close')) exportResultEl.hidden = true; });

  // ---------------------------------------------------------------- misc
  function toast(msg) {
    toastEl.textContent = msg;
    toastEl.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastEl.hidden = true; }, 3500);
  }

  // ---------------------------------------------------------------- start
  async function load() {
    let r, j;
    try {
      r = await fetch('/api/doc', { cache: 'no-store', credentials: 'same-origin' });
      j = await r.json().catch(() => ({}));
    } catch (_) {
      saveStateEl.textContent = '読み込めません';
      showError('サーバーに接続できません。gijiroku review が動いているか確かめてください。');
      return;
    }
    if (!r.ok || !j.doc) {
      saveStateEl.textContent = '読み込めません';
      showError('文書を読み込めません：' + (j.message || 'エラー（' + r.status + '）'));
      return;
    }
    // Marks for measuring the page with a big meeting (Performance panel / tests).
    if (window.performance && performance.mark) performance.mark('review-doc-parsed');
    doc = j.doc;
    revision = j.revision;
    if (!Array.isArray(doc.segments)) doc.segments = [];
    if (!Array.isArray(doc.labels) || doc.labels.length !== doc.segments.length) {
      // Older files: the speaker names stand in for the labels (what the server does too).
      const old = Array.isArray(doc.labels) ? doc.labels : [];
      doc.labels = doc.segments.map((s, i) => (typeof old[i] === 'string' ? old[i] : str(s && s.speaker) || UNKNOWN));
    }
    audioSeconds = (j.audio && num(j.audio.seconds)) || num(doc.audio_seconds);
    const jsonName = str(j.json_name);
    const docname = byId('docname');
    docname.textContent = docname.title = jsonName + (j.audio && j.audio.name ? ' ／ ' + j.audio.name : '');
    document.title = (jsonName ? jsonName + ' — ' : '') + '校正 — gijiroku';
    templateEl.innerHTML = (Array.isArray(j.templates) ? j.templates : [])
      .map((t) => '<option value="' + esc(t.id) + '">' + esc(t.label || t.id) + '</option>').join('');
    exportBtn.disabled = !templateEl.options.length;
    renderHeader();
    renderAll();
    updateClock();
    updateSpeedButtons();
    updateSaveState();
    list.setAttribute('aria-busy', 'false');
    if (window.performance && performance.mark) performance.mark('review-rendered');
  }
  load();
})();
