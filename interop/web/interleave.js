// ferrtc interop, case `dc-interleave`: user message interleaving (RFC 8260 I-DATA) against a
// browser. The page offers two data channels and asks the server under test to offer
// interleaving too (`sctp_interleaving` in the offer's JSON); it learns what the SCTP
// association negotiated from the server (`interleaving?` on a channel is answered with
// `interleaving negotiated=B peer=B`). Then it sends one large binary message on `bulk`
// (echoed back whole by the server) while it pings on `small` every 10 ms, and measures
// the pings' round trips while the large message is in flight, each way. With `compare=1`
// it does the same on a second connection without interleaving (plain DATA: a large
// message holds back every other message). Plain JS, no dependencies. See
// interop/README.md.
'use strict';

const params = new URLSearchParams(location.search);
const RUN = params.get('run') || 'manual';
const TIMEOUT_MS = 1000 * Number(params.get('timeout') || 60);
const BIG = Number(params.get('big') || 16 * 1024 * 1024);
const COMPARE = params.get('compare') === '1';
const ONLY_OFF = params.get('only') === 'off';  // by hand: the connection without interleaving alone
// Interleaved, the most the median of the pings' round trips may be while the large message
// goes through (with DATA it is about half the transfer). The tail is reported, not bounded:
// on a loaded machine loopback drops packets in bursts and retransmission timeouts (ours
// and the browser's) hold a few pings for hundreds of milliseconds either way.
const MEDIAN_RTT_MS = Number(params.get('medianrtt') || 150);
const PING_MS = 10;
const BASELINE_PINGS = 20;
const IS_FIREFOX = navigator.userAgent.includes('Firefox');

const t0 = performance.now();
const ms = () => Math.round(performance.now() - t0);
let lastStep = 'start';
let finished = false;

function log(msg) {
  lastStep = msg;
  const line = `[${ms()} ms] ${msg}`;
  console.log(line);
  document.getElementById('log').textContent += line + '\n';
  fetch(`/log?run=${encodeURIComponent(RUN)}`, { method: 'POST', body: line }).catch(() => {});
}

async function finish(pass, reason, details) {
  if (finished) return;
  finished = true;
  document.getElementById('verdict').textContent = (pass ? 'PASS: ' : 'FAIL: ') + reason;
  const result = { peer: IS_FIREFOX ? 'firefox' : 'chromium',
                   userAgent: navigator.userAgent, run: RUN, pass, reason,
                   details: Object.assign({ total_ms: ms() }, details || {}) };
  console.log('RESULT ' + JSON.stringify(result));
  try {
    await fetch(`/result?run=${encodeURIComponent(RUN)}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(result),
    });
  } catch (e) { console.log('could not post result: ' + e); }
}

window.addEventListener('error', (e) => finish(false, `page error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => finish(false, `unhandled: ${e.reason}`));

function remaining() { return Math.max(100, TIMEOUT_MS - (performance.now() - t0)); }

// Resolves when `test()` is true, re-checked on each of `events` on `target`; rejects with
// `what` once the case's time is up.
function waitFor(target, events, test, what) {
  return new Promise((resolve, reject) => {
    if (test()) return resolve();
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timeout: ${what}`)); }, remaining());
    const check = () => { if (test()) { cleanup(); resolve(); } };
    const cleanup = () => { clearTimeout(timer); events.forEach((e) => target.removeEventListener(e, check)); };
    events.forEach((e) => target.addEventListener(e, check));
  });
}

function describe(m) {
  if (typeof m !== 'string') return `<${m.byteLength} bytes>`;
  return m.length <= 60 ? JSON.stringify(m) : `<text of ${m.length} chars>`;
}

function sdpMaxMessageSize(sdp) {
  const m = /^a=max-message-size:(\d+)/m.exec(sdp);
  return m ? Number(m[1]) : null;
}

// Median, 95th percentile and maximum of round trips (ms), rounded.
function summary(xs) {
  if (xs.length === 0) return { n: 0 };
  const s = xs.slice().sort((a, b) => a - b);
  const at = (q) => Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))] * 10) / 10;
  return { n: s.length, median: at(0.5), p95: at(0.95), max: Math.round(s[s.length - 1] * 10) / 10 };
}

// Every message of a channel, with its arrival time.
function inbox(channel) {
  const box = { q: [], target: new EventTarget() };
  channel.binaryType = 'arraybuffer';
  channel.onmessage = (e) => {
    box.q.push({ data: e.data, at: performance.now() });
    box.target.dispatchEvent(new Event('msg'));
  };
  return box;
}

async function next(box, what) {
  await waitFor(box.target, ['msg'], () => box.q.length > 0, what);
  return box.q.shift();
}

// Pseudo-random bytes (xorshift32), so that a misplaced chunk shows.
function pattern(n, seed) {
  const a = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    a[i] = x & 0xff;
  }
  return a;
}

function sameBytes(got, want) {
  if (!(got instanceof ArrayBuffer) || got.byteLength !== want.length) return false;
  const g = new Uint8Array(got);
  for (let i = 0; i < g.length; i++) if (g[i] !== want[i]) return false;
  return true;
}

async function connect(interleaving) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  window.pc = pc;
  const bulk = pc.createDataChannel('bulk');
  const small = pc.createDataChannel('small');
  await pc.setLocalDescription(await pc.createOffer());
  await waitFor(pc, ['icegatheringstatechange'], () => pc.iceGatheringState === 'complete',
                'ICE gathering complete');
  const resp = await fetch('/offer', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ sdp: pc.localDescription.sdp, type: 'offer',
                           sctp_interleaving: interleaving, max_message_size: BIG }),
  });
  const text = await resp.text();
  if (!resp.ok) throw new Error(`POST /offer: HTTP ${resp.status}: ${text.slice(0, 200)}`);
  const answer = JSON.parse(text);
  if (!/^a=candidate/m.test(answer.sdp)) throw new Error('answer has no a=candidate line (the contract is no trickle)');
  await pc.setRemoteDescription(answer);
  for (const c of [bulk, small]) {
    await waitFor(c, ['open', 'close'], () => c.readyState !== 'connecting', `channel ${c.label} open`);
    if (c.readyState !== 'open') throw new Error(`channel ${c.label} ${c.readyState}`);
  }
  const limits = [BIG, sdpMaxMessageSize(answer.sdp), sdpMaxMessageSize(pc.localDescription.sdp),
                  pc.sctp && pc.sctp.maxMessageSize].filter((x) => x);
  return { pc, bulk, small, size: Math.min(...limits),
           maxMessageSize: { ours: sdpMaxMessageSize(pc.localDescription.sdp),
                             server: sdpMaxMessageSize(answer.sdp),
                             sctp: pc.sctp && pc.sctp.maxMessageSize } };
}

// One connection: the server asked for interleaving or not; a large message echoed beside
// pings. Returns the figures, or throws what went wrong.
async function measure(interleaving) {
  const tag = interleaving ? 'on' : 'off';
  log(`[${tag}] connecting, the server asked for interleaving ${interleaving}`);
  const { pc, bulk, small, size, maxMessageSize } = await connect(interleaving);
  const smallIn = inbox(small), bulkIn = inbox(bulk);
  small.send('interleaving?');
  const info = (await next(smallIn, 'the answer to interleaving?')).data;
  const m = /^interleaving negotiated=(true|false) peer=(true|false)$/.exec(info);
  if (!m) throw new Error(`[${tag}] the server answered 'interleaving?' with ${describe(info)}`);
  const negotiated = m[1] === 'true', peerAnnounced = m[2] === 'true';
  log(`[${tag}] open; I-DATA negotiated ${negotiated}, the browser announced it ${peerAnnounced}; ` +
      `message of ${size} bytes (max-message-size ${JSON.stringify(maxMessageSize)})`);

  const baseline = [];
  for (let i = 0; i < BASELINE_PINGS; i++) {
    const t = performance.now();
    small.send(`ping b${i}`);
    const r = await next(smallIn, 'a baseline pong');
    if (r.data !== `pong b${i}`) throw new Error(`[${tag}] baseline: got ${describe(r.data)}, want pong b${i}`);
    baseline.push(r.at - t);
  }

  const big = pattern(size, 0x9e3779b9);
  const sentAt = [];
  let tUp = null;
  bulk.bufferedAmountLowThreshold = 0;
  bulk.onbufferedamountlow = () => { if (tUp === null) tUp = performance.now(); };
  const tBig = performance.now();
  const timer = setInterval(() => {
    const i = sentAt.length;
    sentAt.push(performance.now());
    small.send(`ping ${i}`);
  }, PING_MS);
  bulk.send(big);
  let back;
  try {
    back = await next(bulkIn, 'the large message back');
  } finally {
    clearInterval(timer);
  }
  const tBack = back.at;
  await waitFor(smallIn.target, ['msg'], () => smallIn.q.length >= sentAt.length, 'every pong');
  for (let i = 0; i < sentAt.length; i++) {
    if (smallIn.q[i].data !== `pong ${i}`) {
      throw new Error(`[${tag}] pong #${i}: got ${describe(smallIn.q[i].data)}`);
    }
  }
  if (smallIn.q.length !== sentAt.length) throw new Error(`[${tag}] unexpected message on small`);
  if (!sameBytes(back.data, big)) {
    throw new Error(`[${tag}] the large message came back changed (${describe(back.data)})`);
  }
  // The pings sent while the large message was in flight; "up" ones were sent while the
  // browser still held some of it (bufferedAmount above 0), "down" ones after, while the
  // server was receiving the rest and sending it back. The boundary is approximate: the
  // browser's SCTP stack may still hold data when its bufferedAmount reaches 0.
  const during = [], up = [], down = [];
  sentAt.forEach((t, i) => {
    if (t < tBig || t > tBack) return;
    const rtt = smallIn.q[i].at - t;
    during.push(rtt);
    (tUp !== null && t >= tUp ? down : up).push(rtt);
  });
  pc.close();
  const roundTrip = tBack - tBig;
  const figures = {
    server_interleaving: interleaving, negotiated, browser_announced: peerAnnounced, bytes: size,
    max_message_size: maxMessageSize,
    round_trip_ms: Math.round(roundTrip),
    upload_done_ms: tUp === null ? null : Math.round(tUp - tBig),
    goodput_mbit_s: Math.round(2 * size * 8 / roundTrip / 100) / 10,
    pings: sentAt.length,
    baseline: summary(baseline), during: summary(during), up: summary(up), down: summary(down),
  };
  log(`[${tag}] ${JSON.stringify(figures)}`);
  return figures;
}

function line(f) {
  return `${f.negotiated ? 'I-DATA' : 'DATA'}: ${(f.bytes / 1048576).toFixed(2)} MiB echoed intact in ` +
    `${f.round_trip_ms} ms; ${f.during.n} pings meanwhile, RTT median ${f.during.median} / ` +
    `p95 ${f.during.p95} / max ${f.during.max} ms (baseline median ${f.baseline.median} ms)`;
}

async function main() {
  log(`case dc-interleave: big=${BIG} compare=${COMPARE} medianrtt=${MEDIAN_RTT_MS} run=${RUN}`);
  const on = ONLY_OFF ? null : await measure(true);
  const off = COMPARE || ONLY_OFF ? await measure(false) : null;
  if (ONLY_OFF) return finish(true, `off only: ${line(off)}`, { off });
  const details = { on, off, median_rtt_ms: MEDIAN_RTT_MS };
  let reason = `server interleaving on, ${line(on)}`;
  if (off) reason += `; off, ${line(off)}`;
  if (IS_FIREFOX && !on.negotiated) {
    return finish(false, `Firefox did not negotiate I-DATA (it announced it: ${on.browser_announced}); ${reason}`, details);
  }
  if (on.negotiated && !(on.during.median <= MEDIAN_RTT_MS)) {
    return finish(false, `interleaved, the pings' median round trip was ${on.during.median} ms ` +
                  `(> ${MEDIAN_RTT_MS}); ${reason}`, details);
  }
  if (!IS_FIREFOX && !on.negotiated) reason = `falls back to DATA (the browser announced I-DATA: ${on.browser_announced}); ${reason}`;
  return finish(true, reason, details);
}

main().catch((e) => finish(false, `${e.message || e} (last step: ${lastStep})`));
