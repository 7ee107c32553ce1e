// ferrtc interop, opt-in measurement `rampup` (interop/rampup.py): the browser sends its
// fake camera to a server under test (target=server: POST /offer, the echo contract), or to
// a second RTCPeerConnection in this page (target=loopback, the reference), and samples its
// send-side bandwidth estimate every second. The script only reports; it judges nothing.
// Plain JS, no dependencies.
'use strict';

const params = new URLSearchParams(location.search);
const RUN = params.get('run') || 'manual';
const TARGET = params.get('target') || 'server';
const SECONDS = Number(params.get('seconds') || 20);
const WIDTH = Number(params.get('width') || 1280);
const HEIGHT = Number(params.get('height') || 720);

const t0 = performance.now();
const ms = () => Math.round(performance.now() - t0);

function log(msg) {
  const line = `[${ms()} ms] ${msg}`;
  console.log(line);
  document.getElementById('log').textContent += line + '\n';
}

async function post(path, body) {
  await fetch(`${path}?run=${encodeURIComponent(RUN)}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
}

let finished = false;
async function finish(ok, reason, samples) {
  if (finished) return;
  finished = true;
  document.getElementById('verdict').textContent = (ok ? 'done: ' : 'FAIL: ') + reason;
  await post('/result', { ok, reason, target: TARGET, samples: samples || [] }).catch(() => {});
}
window.addEventListener('error', (e) => finish(false, `page error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => finish(false, `unhandled: ${e.reason}`));

function gathered(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve();
    });
  });
}

let prev = null;
async function sample(pc) {
  const stats = await pc.getStats();
  const out = { t: ms() };
  let pairId = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  });
  stats.forEach((s) => {
    if (s.type === 'outbound-rtp' && s.kind === 'video') {
      Object.assign(out, {
        targetBitrate: s.targetBitrate, bytesSent: s.bytesSent, frameWidth: s.frameWidth,
        frameHeight: s.frameHeight, framesPerSecond: s.framesPerSecond,
        qualityLimitationReason: s.qualityLimitationReason,
        retransmittedBytesSent: s.retransmittedBytesSent, nackCount: s.nackCount,
        pliCount: s.pliCount, firCount: s.firCount,
      });
    }
    if (s.type === 'remote-inbound-rtp' && s.kind === 'video') {
      Object.assign(out, { remoteFractionLost: s.fractionLost, remotePacketsLost: s.packetsLost,
                           remoteRtt: s.roundTripTime });
    }
    if (s.type === 'candidate-pair' && (s.id === pairId || (!pairId && s.nominated))) {
      out.availableOutgoingBitrate = s.availableOutgoingBitrate;
      out.rtt = s.currentRoundTripTime;
    }
  });
  if (prev && out.bytesSent !== undefined) {
    out.sendKbps = Math.round(8 * (out.bytesSent - prev.bytesSent) / (out.t - prev.t));
  }
  prev = out;
  return out;
}

async function main() {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: { exact: WIDTH }, height: { exact: HEIGHT }, frameRate: 30 }, audio: false,
  });
  const pc = new RTCPeerConnection({ iceServers: [] });
  stream.getTracks().forEach((t) => pc.addTransceiver(t, { direction: 'sendrecv', streams: [stream] }));
  if (TARGET === 'loopback') {
    const pc2 = new RTCPeerConnection({ iceServers: [] });
    pc.onicecandidate = (e) => e.candidate && pc2.addIceCandidate(e.candidate);
    pc2.onicecandidate = (e) => e.candidate && pc.addIceCandidate(e.candidate);
    await pc.setLocalDescription();
    await pc2.setRemoteDescription(pc.localDescription);
    await pc2.setLocalDescription();
    await pc.setRemoteDescription(pc2.localDescription);
  } else {
    await pc.setLocalDescription();
    await gathered(pc);
    const resp = await fetch('/offer', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sdp: pc.localDescription.sdp, type: 'offer' }),
    });
    const text = await resp.text();
    if (!resp.ok) throw new Error(`POST /offer: HTTP ${resp.status}: ${text.slice(0, 200)}`);
    await pc.setRemoteDescription(JSON.parse(text));
  }
  await new Promise((resolve, reject) => {
    const check = () => {
      if (pc.connectionState === 'connected') resolve();
      if (pc.connectionState === 'failed') reject(new Error('connection failed'));
    };
    pc.addEventListener('connectionstatechange', check);
    check();
  });
  log('connected');
  const samples = [];
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    const s = await sample(pc);
    samples.push(s);
    log(JSON.stringify(s));
    post('/sample', s).catch(() => {});
  }
  await finish(true, `${samples.length} samples`, samples);
}

main().catch((e) => finish(false, String(e && e.message || e)));
