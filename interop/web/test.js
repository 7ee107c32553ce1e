// ferrtc interop: one test case run by a real browser against the server under test.
// Plain JS, no dependencies. See interop/README.md for the cases and what they check.
'use strict';

const params = new URLSearchParams(location.search);
const RUN = params.get('run') || 'manual';
const DC = params.get('dc');                 // null | 'ordered' | 'unordered'
const AUDIO = params.get('audio') === '1';
const VIDEO = params.get('video') === '1';
const CODEC = params.get('codec');           // e.g. VP8, VP9, H264, AV1 (video only)
const TIMEOUT_MS = 1000 * Number(params.get('timeout') || 30);
const ROLE = params.get('role') === 'answer' ? 'answer' : 'offer';
// TURN-only cases: a turn: URL and its long-term credentials; iceTransportPolicy 'relay'.
const TURN = params.get('turn');
const TURN_USER = params.get('turnuser') || '';
const TURN_PASS = params.get('turnpass') || '';
const TURN_REMOTE = params.get('turnremote');  // 'relay': the far end must be relayed too
// Renegotiation cases: once the channel is open, the offerer restarts ICE or adds a video
// track and offers again over the same signalling ('ice-restart' | 'add-video').
const RENEG = params.get('reneg');
// mDNS case: the browser's hiding of host addresses is left on; every host candidate it
// gathers must be a `.local` name, and the candidates are reported.
const MDNS = params.get('mdns') === '1';
// ICE-TCP case: the far end offers TCP candidates only; the selected pair must be TCP.
const TCP = params.get('tcp') === '1';
let ownCandidates = [];
const candidateEvents = [];  // mDNS case: every icecandidate event, as the page saw it
globalThis.AUDIO_WANTED = AUDIO;
globalThis.VIDEO_WANTED = VIDEO;

const DC_PINGS = 50;
const VIDEO_FRAMES_NEEDED = 30;    // framesDecoded on the echoed video
const AUDIO_PACKETS_NEEDED = 50;   // packetsReceived on the echoed audio (1 s of 20 ms)
const UNORDERED_MIN_FRACTION = 0.9;

const t0 = performance.now();
const ms = () => Math.round(performance.now() - t0);
const timings = {};
let lastStep = 'start';
let finished = false;

function log(msg) {
  lastStep = msg;
  const line = `[${ms()} ms] ${msg}`;
  console.log(line);
  document.getElementById('log').textContent += line + '\n';
  // best effort: the harness keeps the last step so a timeout can say where it stopped
  fetch(`/log?run=${encodeURIComponent(RUN)}`, { method: 'POST', body: line }).catch(() => {});
}

async function finish(pass, reason, details) {
  if (finished) return;
  finished = true;
  const result = {
    peer: navigator.userAgent.includes('Firefox') ? 'firefox' : 'chromium',
    userAgent: navigator.userAgent, run: RUN, pass, reason,
    details: Object.assign({ timings, total_ms: ms() }, details || {}),
  };
  const v = document.getElementById('verdict');
  v.textContent = (pass ? 'PASS: ' : 'FAIL: ') + reason;
  v.className = pass ? 'pass' : 'fail';
  console.log('RESULT ' + JSON.stringify(result));
  try {
    await fetch(`/result?run=${encodeURIComponent(RUN)}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(result),
    });
  } catch (e) { console.log('could not post result: ' + e); }
}

window.addEventListener('error', (e) => finish(false, `page error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => finish(false, `unhandled: ${e.reason}`));

// Resolves when `test()` is true, re-checked on each of `events` on `target`; rejects
// with `what` after `timeoutMs`.
function waitFor(target, events, test, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    if (test()) return resolve();
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timeout: ${what}`)); }, timeoutMs);
    const check = () => { if (test()) { cleanup(); resolve(); } };
    const cleanup = () => { clearTimeout(timer); events.forEach((e) => target.removeEventListener(e, check)); };
    events.forEach((e) => target.addEventListener(e, check));
  });
}

function remaining() { return Math.max(100, TIMEOUT_MS - (performance.now() - t0)); }

function dcPayloads() {
  const sent = [], expected = [];
  let big = '';
  for (let i = 0; i < 16000; i++) big += String.fromCharCode(0x41 + (i % 26));
  const bin = new Uint8Array(1200);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 7 + 3) & 0xff;
  for (let i = 0; i < DC_PINGS; i++) {
    sent.push(`ping ${i}`); expected.push(`pong ${i}`);
    if (i === 10) { sent.push(bin.buffer); expected.push(bin); }
    if (i === 30) { sent.push(big); expected.push(big); }
  }
  return { sent, expected };
}

function same(got, want) {
  if (typeof want === 'string') return got === want;
  if (!(got instanceof ArrayBuffer)) return false;
  const g = new Uint8Array(got);
  return g.length === want.length && g.every((b, i) => b === want[i]);
}

function describe(m) {
  if (typeof m !== 'string') return `<${m.byteLength} bytes>`;
  return m.length <= 40 ? m : `<text of ${m.length} chars>`;
}

async function dcCheck(channel) {
  await waitFor(channel, ['open', 'close'], () => channel.readyState !== 'connecting',
                remaining(), 'data channel open');
  if (channel.readyState !== 'open') throw new Error(`data channel ${channel.readyState}`);
  timings.dc_open_ms = ms();
  log(`data channel open (id ${channel.id}, ordered ${channel.ordered}, maxRetransmits ${channel.maxRetransmits})`);
  const { sent, expected } = dcPayloads();
  const received = [];
  const box = new EventTarget();
  channel.binaryType = 'arraybuffer';
  channel.onmessage = (e) => { received.push(e.data); box.dispatchEvent(new Event('msg')); };
  const tSend = performance.now();
  for (const m of sent) channel.send(m);
  try {
    await waitFor(box, ['msg'], () => received.length >= expected.length, remaining(), 'echoes');
  } catch (e) { /* judged below */ }
  const details = { sent: sent.length, echoed: received.length,
                    echo_all_ms: Math.round(performance.now() - tSend) };
  if (DC !== 'unordered') {
    for (let i = 0; i < Math.min(received.length, expected.length); i++) {
      if (!same(received[i], expected[i])) {
        return [false, `echo #${i}: got ${describe(received[i])}, want ${describe(expected[i])}`, details];
      }
    }
    if (received.length === expected.length) return [true, `${received.length}/${expected.length} echoed in order`, details];
    return [false, `only ${received.length}/${expected.length} echoed in order before timeout`, details];
  }
  const pool = expected.slice();
  for (const got of received) {
    const k = pool.findIndex((w) => same(got, w));
    if (k < 0) return [false, `unexpected echo ${describe(got)}`, details];
    pool.splice(k, 1);
  }
  const n = expected.length - pool.length;
  return [n >= UNORDERED_MIN_FRACTION * expected.length, `${n}/${expected.length} echoed`, details];
}

async function inboundStats(pc) {
  const stats = await pc.getStats();
  const out = {};
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && (s.kind || s.mediaType)) {
      const kind = s.kind || s.mediaType;
      const codec = s.codecId && stats.get(s.codecId);
      out[kind] = {
        packetsReceived: s.packetsReceived || 0,
        framesDecoded: s.framesDecoded || 0,
        frameWidth: s.frameWidth, frameHeight: s.frameHeight,
        totalSamplesReceived: s.totalSamplesReceived,
        codec: codec ? codec.mimeType : undefined,
      };
    }
    if (s.type === 'outbound-rtp' && (s.kind || s.mediaType) === 'video' && s.frameWidth) {
      out.sentSize = `${s.frameWidth}x${s.frameHeight}`;
    }
  });
  return out;
}

async function mediaCheck(pc, AUDIO = globalThis.AUDIO_WANTED, VIDEO = globalThis.VIDEO_WANTED) {
  // getStats has no change event: sample it until the counters pass or time runs out.
  let last = {};
  const sentSizes = new Set();   // what our encoder produced (it may rescale mid-run)
  while (remaining() > 100) {
    last = await inboundStats(pc);
    if (last.sentSize) sentSizes.add(last.sentSize);
    const v = last.video || {}, a = last.audio || {};
    const videoOk = !VIDEO || v.framesDecoded >= VIDEO_FRAMES_NEEDED;
    const audioOk = !AUDIO || a.packetsReceived >= AUDIO_PACKETS_NEEDED;
    if (videoOk && audioOk) {
      const bits = [];
      if (AUDIO) bits.push(`audio ${a.packetsReceived} packets (${a.codec})`);
      if (VIDEO) bits.push(`video ${v.framesDecoded} frames decoded (${v.codec} ${v.frameWidth}x${v.frameHeight})`);
      if (VIDEO && CODEC && v.codec && v.codec.toLowerCase() !== `video/${CODEC}`.toLowerCase()) {
        return [false, `wanted ${CODEC}, decoded ${v.codec}`, last];
      }
      // an echo comes back at the size we sent; the server's own video would not (unless
      // it happened to be the same size)
      const got = `${v.frameWidth}x${v.frameHeight}`;
      last.sentSizes = [...sentSizes];
      if (VIDEO && sentSizes.size && !sentSizes.has(got)) {
        return [false, `echoed video is ${got}, we sent ${[...sentSizes].join(' / ')}`, last];
      }
      if (VIDEO && !sentSizes.size) bits.push('(sent size not in stats: size not compared)');
      return [true, bits.join(' + '), last];
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const v = last.video || {}, a = last.audio || {};
  const bits = [];
  if (AUDIO) bits.push(`audio packets ${a.packetsReceived || 0}/${AUDIO_PACKETS_NEEDED}`);
  if (VIDEO) bits.push(`video frames decoded ${v.framesDecoded || 0}/${VIDEO_FRAMES_NEEDED} (packets ${v.packetsReceived || 0})`);
  return [false, `echoed media in ${Math.round(TIMEOUT_MS / 1000)} s: ${bits.join(', ')}; connection ${pc.connectionState}`, last];
}

// The remote description's m-sections, enough to explain early why media cannot come back.
function sections(sdp) {
  const out = [];
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      const [kind, port] = line.slice(2).split(' ');
      out.push({ kind, port: Number(port), direction: 'sendrecv', bundleOnly: false });
    } else if (out.length && line === 'a=bundle-only') {
      out[out.length - 1].bundleOnly = true;
    } else if (out.length && /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(line)) {
      out[out.length - 1].direction = line.slice(2);
    }
  }
  return out;
}

// The peer must send media back on every audio/video section we asked for: it must accept
// the section (port != 0) and send on it (sendrecv, or sendonly seen from its side).
function checkRemoteMedia(sdp, who) {
  for (const kind of [AUDIO && 'audio', VIDEO && 'video'].filter(Boolean)) {
    const sec = sections(sdp).find((m) => m.kind === kind);
    if (!sec) throw new Error(`${who} has no m=${kind}`);
    if (sec.port === 0 && !sec.bundleOnly) throw new Error(`${who} rejected m=${kind} (port 0)${kind === 'video' && CODEC ? `: no ${CODEC}?` : ''}`);
    if (sec.direction !== 'sendrecv') throw new Error(`${who} says a=${sec.direction} on m=${kind}: it will not echo`);
  }
  if (DC) {
    const sec = sections(sdp).find((m) => m.kind === 'application');
    if (!sec) throw new Error(`${who} has no m=application`);
    if (sec.port === 0 && !sec.bundleOnly) throw new Error(`${who} rejected m=application (port 0)`);
  }
}

function preferCodec(transceiver, kind, codec) {
  if (!codec || !transceiver.setCodecPreferences || !RTCRtpReceiver.getCapabilities) return;
  const caps = RTCRtpReceiver.getCapabilities(kind).codecs;
  const want = caps.filter((c) => c.mimeType.toLowerCase() === `${kind}/${codec}`.toLowerCase());
  if (!want.length) throw new Error(`this browser cannot receive ${kind}/${codec}`);
  // only the wanted codec (and its helpers), so the answer cannot pick another one
  const helpers = caps.filter((c) => /\/(rtx|red|ulpfec)$/i.test(c.mimeType));
  transceiver.setCodecPreferences(want.concat(helpers));
}

function newPeerConnection() {
  const config = TURN
    ? { iceServers: [{ urls: [TURN], username: TURN_USER, credential: TURN_PASS }],
        iceTransportPolicy: 'relay' }
    : { iceServers: [] };
  const pc = new RTCPeerConnection(config);
  window.pc = pc;
  if (MDNS) {
    pc.addEventListener('icecandidate', (e) => {
      const c = e.candidate ? e.candidate.candidate : null;
      candidateEvents.push(c);
      log(`icecandidate ${c}`);
    });
  }
  pc.addEventListener('connectionstatechange', () => {
    timings[`${pc.connectionState}_ms`] = timings[`${pc.connectionState}_ms`] || ms();
    log(`connection ${pc.connectionState}`);
  });
  pc.addEventListener('track', (e) => {
    log(`remote ${e.track.kind} track`);
    if (e.track.kind === 'video') document.getElementById('remote').srcObject = e.streams[0] || new MediaStream([e.track]);
  });
  return pc;
}

function newChannel(pc, label) {
  if (DC === 'ordered') return pc.createDataChannel(label);
  if (DC === 'unordered') return pc.createDataChannel(label, { ordered: false, maxRetransmits: 0 });
  if (DC) throw new Error(`unknown dc=${DC}`);
  return null;
}

async function gathered(pc) {
  try {
    await waitFor(pc, ['icegatheringstatechange'], () => pc.iceGatheringState === 'complete',
                  remaining(), 'ICE gathering complete');
  } catch (e) {
    if (!MDNS) throw e;
    throw new Error(`${e.message}; mDNS hiding on, gathering ${pc.iceGatheringState}, icecandidate events ${JSON.stringify(candidateEvents)}`);
  }
  timings.gathered_ms = ms();
  const lines = pc.localDescription.sdp.split('\n').filter((l) => l.startsWith('a=candidate'));
  ownCandidates = lines.map((l) => l.trim());
  if (TURN && (lines.length === 0 || lines.some((l) => !/ typ relay /.test(l)))) {
    throw new Error(`relay policy, but candidates ${JSON.stringify(lines)}`);
  }
  return lines.length;
}

// The selected pair's candidate types from getStats: [local, remote], or null.
async function selectedPairTypes(pc) {
  const stats = await pc.getStats();
  let pairId = null;
  stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
  if (!pairId) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pairId = s.id; });
  const pair = pairId && stats.get(pairId);
  if (!pair) return null;
  const l = stats.get(pair.localCandidateId), r = stats.get(pair.remoteCandidateId);
  return [l ? l.candidateType : '?', r ? r.candidateType : '?'];
}

// ICE-TCP case: every candidate of the far end's description must be TCP (its transport is
// the candidate-attribute's third field, RFC 8839 section 5.1).
function checkTcpOnly(sdp, who) {
  if (!TCP) return;
  const lines = sdp.split('\n').filter((l) => l.startsWith('a=candidate'));
  if (!lines.length || lines.some((l) => (l.split(' ')[2] || '').toLowerCase() !== 'tcp')) {
    throw new Error(`ice-tcp: the ${who}'s candidates are not all TCP: ${JSON.stringify(lines)}`);
  }
  log(`${who} candidates: ${JSON.stringify(lines.map((l) => l.trim()))}`);
}

// The selected pair's candidate protocols and TCP types from getStats:
// [local protocol, remote protocol, local tcpType, remote tcpType], or null.
async function selectedPairProtocols(pc) {
  const stats = await pc.getStats();
  let pairId = null;
  stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
  const pair = pairId && stats.get(pairId);
  if (!pair) return null;
  const l = stats.get(pair.localCandidateId) || {}, r = stats.get(pair.remoteCandidateId) || {};
  return [l.protocol || '?', r.protocol || '?', l.tcpType || '-', r.tcpType || '-'];
}

async function runChecks(pc, channel, candidates) {
  const jobs = [];
  if (channel) jobs.push(dcCheck(channel));
  if (AUDIO || VIDEO) jobs.push(mediaCheck(pc));
  const results = await Promise.all(jobs);
  let pass = results.every((r) => r[0]);
  let reason = results.map((r) => r[1]).join('; ');
  const details = { role: ROLE, candidates, connection: pc.connectionState };
  if (MDNS) {
    // The candidate-attribute's connection-address is its 5th field (RFC 8839 section 5.1).
    const hosts = ownCandidates.filter((l) => / typ host/.test(l));
    const named = hosts.filter((l) => /\.local$/i.test(l.split(' ')[4] || ''));
    details.own_candidates = ownCandidates;
    details.selected_pair = await selectedPairTypes(pc);
    if (!hosts.length || named.length !== hosts.length) {
      pass = false;
      reason += `; mDNS hiding on, but ${named.length} of ${hosts.length} host candidates are .local names: ${JSON.stringify(ownCandidates)}`;
    } else {
      reason += ` (own host candidates ${named.length}/${hosts.length} .local; selected pair ${details.selected_pair ? details.selected_pair.join(' -> ') : '?'})`;
    }
  }
  if (TCP) {
    const p = await selectedPairProtocols(pc);
    details.selected_pair_protocols = p;
    details.own_candidates = ownCandidates;
    if (!p || p[0] !== 'tcp' || p[1] !== 'tcp') {
      pass = false;
      reason += `; selected pair protocols ${p ? JSON.stringify(p) : 'unknown'}, want tcp -> tcp`;
    } else {
      reason += ` (over ICE-TCP: ${p[0]} ${p[2]} -> ${p[1]} ${p[3]})`;
    }
  }
  if (TURN) {
    // Relay-only must really have gone through the TURN server.
    const types = await selectedPairTypes(pc);
    details.selected_pair = types;
    if (!types || types[0] !== 'relay' || (TURN_REMOTE && types[1] !== TURN_REMOTE)) {
      pass = false;
      reason += `; selected pair ${types ? types.join(' -> ') : 'unknown'}, want relay -> ${TURN_REMOTE || 'any'}`;
    } else {
      reason += ` (via TURN: ${types.join(' -> ')})`;
    }
  }
  if (channel) details.dc = results[0][2];
  if (AUDIO || VIDEO) details.media = results[results.length - 1][2];
  pc.close();
  await finish(pass, reason, details);
}

// ---- renegotiation cases (ice-restart, renegotiation) ----

const iceUfrag = (sdp) => (sdp.match(/^a=ice-ufrag:(\S+)/m) || [])[1];

// The ICE transport as getStats shows it: the local ufrag in use (Chromium), the ICE state
// and the selected pair with its candidate types.
async function iceInUse(pc) {
  const stats = await pc.getStats();
  const out = {};
  stats.forEach((s) => {
    if (s.type === 'transport') {
      if (s.iceLocalUsernameFragment) out.localUfrag = s.iceLocalUsernameFragment;
      if (s.iceState) out.iceState = s.iceState;
      if (s.selectedCandidatePairId) out.pair = s.selectedCandidatePairId;
    }
  });
  if (!out.pair) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' && (s.selected !== false)) out.pair = s.id; });
  const pair = out.pair && stats.get(out.pair);
  if (pair) {
    out.pairState = pair.state;
    out.responsesReceived = pair.responsesReceived;
    const l = stats.get(pair.localCandidateId), r = stats.get(pair.remoteCandidateId);
    out.local = l ? `${l.address || l.ip}:${l.port}` : '?';
    out.remote = r ? `${r.address || r.ip}:${r.port}` : '?';
  }
  return out;
}

// Gathering done for the description just set: complete, with candidates in it (after an
// ICE restart the new description starts with none while the old state still reads
// 'complete').
async function regathered(pc) {
  const has = () => pc.iceGatheringState === 'complete' && /^a=candidate/m.test(pc.localDescription.sdp);
  await waitFor(pc, ['icegatheringstatechange', 'icecandidate'], has, remaining(), 'ICE gathering after the renegotiation');
  return pc.localDescription.sdp.split('\n').filter((l) => l.startsWith('a=candidate')).length;
}

async function addCamera(pc, transceiver) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: true });
  const track = stream.getVideoTracks()[0];
  if (transceiver) {
    await transceiver.sender.replaceTrack(track);
    transceiver.sender.setStreams && transceiver.sender.setStreams(stream);
    transceiver.direction = 'sendrecv';
    return transceiver;
  }
  const tr = pc.addTransceiver(track, { direction: 'sendrecv', streams: [stream] });
  preferCodec(tr, 'video', CODEC);
  return tr;
}

// The second offer/answer: we offer it (role offer) or answer the offerer's (role answer).
async function renegotiate(pc, session) {
  if (ROLE === 'offer') {
    if (RENEG === 'ice-restart') pc.restartIce();
    else await addCamera(pc, null);
    await pc.setLocalDescription(await pc.createOffer());
    const n = await regathered(pc);
    log(`renegotiation: offer 2 with ${n} candidates; POST /offer (session ${session})`);
    if (session === undefined || session === null) throw new Error('the first answer named no session to renegotiate');
    const resp = await fetch('/offer', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sdp: pc.localDescription.sdp, type: 'offer', session }),
    });
    const text = await resp.text();
    if (!resp.ok) throw new Error(`POST /offer (renegotiation): HTTP ${resp.status}: ${text.slice(0, 200)}`);
    const answer = JSON.parse(text);
    if (answer.type !== 'answer') throw new Error(`renegotiation reply type ${answer.type}`);
    await pc.setRemoteDescription(answer);
    log('renegotiation: answer 2 applied');
    return;
  }
  const resp = await fetch(`/answerer/offer?run=${encodeURIComponent(RUN)}&n=2`);
  const text = await resp.text();
  if (!resp.ok) throw new Error(`GET /answerer/offer n=2: HTTP ${resp.status}: ${text.slice(0, 200)}`);
  const offer = JSON.parse(text);
  if (offer.type !== 'offer') throw new Error(`renegotiation: offerer sent type ${offer.type}`);
  await pc.setRemoteDescription(offer);
  log('renegotiation: offer 2 applied');
  if (RENEG === 'add-video') {
    const tr = pc.getTransceivers().find((t) => t.receiver.track.kind === 'video' && !t.sender.track);
    if (!tr) throw new Error('offer 2 has no new video transceiver to answer with');
    await addCamera(pc, tr);
  }
  await pc.setLocalDescription(await pc.createAnswer());
  const n = await regathered(pc);
  log(`renegotiation: answer 2 with ${n} candidates`);
  const r2 = await fetch(`/answerer/answer?run=${encodeURIComponent(RUN)}&n=2`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type }),
  });
  if (!r2.ok) throw new Error(`POST /answerer/answer n=2: HTTP ${r2.status}`);
}

// After an ICE restart: both ufrags new, and ICE connected again on the new one (the
// transport's local ufrag in getStats where the browser shows it, else the ICE state).
async function iceRestarted(pc, before) {
  const after = { local: iceUfrag(pc.localDescription.sdp), remote: iceUfrag(pc.remoteDescription.sdp) };
  if (after.local === before.local) throw new Error(`our ufrag did not change (${after.local})`);
  if (after.remote === before.remote) throw new Error(`the peer's ufrag did not change (${after.remote}): it did not restart`);
  let last = {};
  while (remaining() > 100) {
    last = await iceInUse(pc);
    const stateOk = ['connected', 'completed'].includes(pc.iceConnectionState);
    const ufragOk = !last.localUfrag || last.localUfrag === after.local;
    if (stateOk && ufragOk && (!last.iceState || last.iceState === 'connected' || last.iceState === 'completed')) {
      return { after, ice: last, shown: last.localUfrag ? 'transport stats' : 'ICE state' };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`ICE not connected on the new ufrag ${after.local}: ${JSON.stringify(last)}, state ${pc.iceConnectionState}`);
}

async function renegChecks(pc, channel, candidates, session) {
  if (!channel) throw new Error('the renegotiation cases need a data channel');
  const iceStates = [];
  pc.addEventListener('iceconnectionstatechange', () => iceStates.push(`${ms()}:${pc.iceConnectionState}`));
  await waitFor(channel, ['open', 'close'], () => channel.readyState !== 'connecting', remaining(), 'data channel open');
  if (channel.readyState !== 'open') throw new Error(`data channel ${channel.readyState}`);
  timings.dc_open_ms = ms();
  log(`data channel open (id ${channel.id})`);
  const received = [];
  const box = new EventTarget();
  channel.binaryType = 'arraybuffer';
  channel.onmessage = (e) => { received.push(e.data); box.dispatchEvent(new Event('msg')); };
  const sent = [], expected = [];
  const send = (m, want) => { channel.send(m); sent.push(m); expected.push(want === undefined ? m : want); };
  const ping = (i) => send(`ping ${i}`, `pong ${i}`);
  const bin = new Uint8Array(1200);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 7 + 3) & 0xff;
  let big = '';
  for (let i = 0; i < 16000; i++) big += String.fromCharCode(0x41 + (i % 26));
  const echoed = (n, what) => waitFor(box, ['msg'], () => received.length >= n, remaining(), what);
  const before = { local: iceUfrag(pc.localDescription.sdp), remote: iceUfrag(pc.remoteDescription.sdp) };
  const pairBefore = await iceInUse(pc);
  // before: the channel works
  for (let i = 0; i < 20; i++) { ping(i); if (i === 10) send(bin.buffer, bin); }
  await echoed(expected.length, 'echoes before the renegotiation');
  // during: the request, then messages while the offer/answer runs
  send(`renegotiate ${RENEG}`);
  for (let i = 20; i < 30; i++) ping(i);
  const tReneg = performance.now();
  await renegotiate(pc, session);
  const details = { role: ROLE, candidates, before, pair_before: pairBefore };
  let media = null;
  if (RENEG === 'ice-restart') {
    const r = await iceRestarted(pc, before);
    Object.assign(details, { after: r.after, ice_after: r.ice, shown_by: r.shown });
  }
  details.renegotiation_ms = Math.round(performance.now() - tReneg);
  // after: the same channel still carries everything
  for (let i = 30; i < 50; i++) { ping(i); if (i === 30) send(big); }
  if (RENEG === 'add-video') media = mediaCheck(pc, false, true);
  try { await echoed(expected.length, 'echoes'); } catch (e) { /* judged below */ }
  details.sent = sent.length; details.echoed = received.length; details.ice_states = iceStates;
  let pass = true, reason;
  for (let i = 0; i < Math.min(received.length, expected.length); i++) {
    if (!same(received[i], expected[i])) { pass = false; reason = `echo #${i}: got ${describe(received[i])}, want ${describe(expected[i])}`; break; }
  }
  if (pass && received.length !== expected.length) { pass = false; reason = `only ${received.length}/${expected.length} echoed in order`; }
  if (pass) reason = `${received.length}/${expected.length} echoed in order across the renegotiation`;
  if (channel.readyState !== 'open') { pass = false; reason += `; channel ${channel.readyState}`; }
  if (RENEG === 'ice-restart') {
    reason += `; ICE restarted (ufrags ${before.local}/${before.remote} -> ${details.after.local}/${details.after.remote}, connected by ${details.shown_by})`;
  }
  if (media) {
    const [ok, why, last] = await media;
    details.media = last;
    pass = pass && ok;
    reason += `; added ${why}`;
  }
  pc.close();
  await finish(pass, reason, details);
}

// The browser answers: the harness hands over the offer that the offerer under test
// POSTed (GET /answerer/offer waits for it) and relays our answer back to it.
async function answerMain() {
  log(`answerer case: dc=${DC} audio=${AUDIO} video=${VIDEO} codec=${CODEC} run=${RUN}`);
  const pc = newPeerConnection();
  const resp = await fetch(`/answerer/offer?run=${encodeURIComponent(RUN)}`);
  const text = await resp.text();
  if (!resp.ok) throw new Error(`GET /answerer/offer: HTTP ${resp.status}: ${text.slice(0, 200)}`);
  const offer = JSON.parse(text);
  if (offer.type !== 'offer') throw new Error(`offerer sent type ${offer.type}`);
  if (!/^a=candidate/m.test(offer.sdp)) throw new Error('offer has no a=candidate line (the contract is no trickle)');
  timings.offer_ms = ms();
  checkRemoteMedia(offer.sdp, 'offer');
  checkTcpOnly(offer.sdp, 'offer');
  await pc.setRemoteDescription(offer);
  log('offer applied');
  if (AUDIO || VIDEO) {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: AUDIO, video: VIDEO });
    for (const track of stream.getTracks()) {
      const tr = pc.getTransceivers().find((t) => t.receiver.track.kind === track.kind && !t.sender.track);
      if (!tr) throw new Error(`no offered ${track.kind} transceiver to answer with`);
      await tr.sender.replaceTrack(track);
      tr.sender.setStreams && tr.sender.setStreams(stream);
      tr.direction = 'sendrecv';
    }
  }
  await pc.setLocalDescription(await pc.createAnswer());
  const candidates = await gathered(pc);
  log(`gathering complete, ${candidates} candidates; POST /answerer/answer`);
  const r2 = await fetch(`/answerer/answer?run=${encodeURIComponent(RUN)}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type }),
  });
  if (!r2.ok) throw new Error(`POST /answerer/answer: HTTP ${r2.status}`);
  // our own channel, opened in-band from the answering side once SCTP is up
  const channel = newChannel(pc, 'browser-answerer');
  if (RENEG) return renegChecks(pc, channel, candidates, null);
  await runChecks(pc, channel, candidates);
}

async function offerMain() {
  log(`case: dc=${DC} audio=${AUDIO} video=${VIDEO} codec=${CODEC} run=${RUN}`);
  const pc = newPeerConnection();
  const channel = newChannel(pc, 'echo');
  if (AUDIO || VIDEO) {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: AUDIO, video: VIDEO });
    for (const track of stream.getTracks()) {
      const tr = pc.addTransceiver(track, { direction: 'sendrecv', streams: [stream] });
      if (track.kind === 'video') preferCodec(tr, 'video', CODEC);
    }
  }
  await pc.setLocalDescription(await pc.createOffer());
  const candidates = await gathered(pc);
  log(`gathering complete, ${candidates} candidates; POST /offer`);
  const resp = await fetch('/offer', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type, video_transform: 'none' }),
  });
  const text = await resp.text();
  if (!resp.ok) throw new Error(`POST /offer: HTTP ${resp.status}: ${text.slice(0, 200)}`);
  const answer = JSON.parse(text);
  if (answer.type !== 'answer') throw new Error(`POST /offer replied type ${answer.type}`);
  if (!/^a=candidate/m.test(answer.sdp)) throw new Error('answer has no a=candidate line (the contract is no trickle)');
  checkRemoteMedia(answer.sdp, 'answer');
  checkTcpOnly(answer.sdp, 'answer');
  await pc.setRemoteDescription(answer);
  timings.answered_ms = ms();
  log('answer applied');
  if (RENEG) return renegChecks(pc, channel, candidates, answer.session);
  await runChecks(pc, channel, candidates);
}

(ROLE === 'answer' ? answerMain() : offerMain()).catch((e) => finish(false, `${e.message || e} (last step: ${lastStep})`));
