// ferrtc interop, case `bwe`: the browser receives ferrtc's video while the harness changes
// the link's rate; this page only receives and reports its getStats figures, the harness
// (interop/run.py) judges. Plain JS, no dependencies. See interop/README.md.
'use strict';

const params = new URLSearchParams(location.search);
const RUN = params.get('run') || 'manual';
const TIMEOUT_MS = 1000 * Number(params.get('timeout') || 60);
const SAMPLE_MS = 500;

const t0 = performance.now();
const ms = () => Math.round(performance.now() - t0);
let finished = false;

function log(msg) {
  const line = `[${ms()} ms] ${msg}`;
  console.log(line);
  document.getElementById('log').textContent += line + '\n';
  fetch(`/log?run=${encodeURIComponent(RUN)}`, { method: 'POST', body: line }).catch(() => {});
}

async function finish(pass, reason, details) {
  if (finished) return;
  finished = true;
  document.getElementById('verdict').textContent = (pass ? 'done: ' : 'FAIL: ') + reason;
  const result = { peer: navigator.userAgent.includes('Firefox') ? 'firefox' : 'chromium',
                   userAgent: navigator.userAgent, run: RUN, pass, reason,
                   details: Object.assign({ total_ms: ms() }, details || {}) };
  try {
    await fetch(`/result?run=${encodeURIComponent(RUN)}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(result),
    });
  } catch (e) { console.log('could not post result: ' + e); }
}

window.addEventListener('error', (e) => finish(false, `page error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => finish(false, `unhandled: ${e.reason}`));

// The figures the harness judges: the inbound video stream's counters and the selected
// candidate pair's STUN round trip (which crosses the shaped link's queue too).
async function sample(pc) {
  const stats = await pc.getStats();
  const out = { page_ms: ms(), connection: pc.connectionState };
  let pairId = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  });
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && (s.kind || s.mediaType) === 'video') {
      const codec = s.codecId && stats.get(s.codecId);
      Object.assign(out, {
        codec: codec ? codec.mimeType : undefined,
        framesDecoded: s.framesDecoded || 0, framesReceived: s.framesReceived || 0,
        framesDropped: s.framesDropped || 0, keyFramesDecoded: s.keyFramesDecoded || 0,
        packetsReceived: s.packetsReceived || 0, packetsLost: s.packetsLost || 0,
        bytesReceived: s.bytesReceived || 0, nackCount: s.nackCount || 0, pliCount: s.pliCount || 0,
        jitterBufferDelay: s.jitterBufferDelay || 0,
        jitterBufferEmittedCount: s.jitterBufferEmittedCount || 0,
        freezeCount: s.freezeCount || 0, totalFreezesDuration: s.totalFreezesDuration || 0,
        frameWidth: s.frameWidth, frameHeight: s.frameHeight,
      });
    }
    if (s.type === 'candidate-pair' && (s.id === pairId || (!pairId && s.nominated))) {
      out.currentRoundTripTime = s.currentRoundTripTime;
    }
  });
  return out;
}

async function main() {
  log(`bwe page, run ${RUN}`);
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addEventListener('connectionstatechange', () => log(`connection ${pc.connectionState}`));
  pc.addEventListener('track', (e) => {
    log(`remote ${e.track.kind} track`);
    document.getElementById('remote').srcObject = e.streams[0] || new MediaStream([e.track]);
  });
  const tr = pc.addTransceiver('video', { direction: 'recvonly' });
  if (tr.setCodecPreferences && RTCRtpReceiver.getCapabilities) {
    const caps = RTCRtpReceiver.getCapabilities('video').codecs;
    const vp8 = caps.filter((c) => c.mimeType.toLowerCase() === 'video/vp8');
    const helpers = caps.filter((c) => /\/(rtx|red|ulpfec)$/i.test(c.mimeType));
    if (vp8.length) tr.setCodecPreferences(vp8.concat(helpers));
  }
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise((resolve) => {
      const check = () => { if (pc.iceGatheringState === 'complete') resolve(); };
      pc.addEventListener('icegatheringstatechange', check);
      setTimeout(resolve, 5000);   // go with what there is
    });
  }
  log('offer ready, posting');
  const resp = await fetch('/offer', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ sdp: pc.localDescription.sdp, type: 'offer' }),
  });
  const answer = await resp.json();
  if (!resp.ok || !answer.sdp) throw new Error(`offer refused: ${resp.status} ${JSON.stringify(answer).slice(0, 200)}`);
  if (!/^a=candidate/m.test(answer.sdp)) throw new Error('answer has no a=candidate lines');
  await pc.setRemoteDescription(answer);
  log('answer applied; sampling getStats');
  let last = null;
  while (performance.now() - t0 < TIMEOUT_MS) {
    last = await sample(pc);
    let reply = {};
    try {
      const r = await fetch(`/bwe/sample?run=${encodeURIComponent(RUN)}`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(last),
      });
      reply = await r.json();
    } catch (e) { log(`sample not taken: ${e}`); }
    if (reply.done) return finish(true, 'samples sent', { last });
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
  }
  return finish(false, `the harness did not end the run in ${TIMEOUT_MS / 1000} s`, { last });
}

main().catch((e) => finish(false, `${e.message || e}`));
