// The ferrtc demo page: offers camera, microphone and a data channel to the server with
// aiortc's signalling (POST /offer), shows what comes back and the call's figures.
//
// Query parameters: autostart=1 starts at once; transform=none|edges|rotate|cartoon, codec=VP8|H264|VP9|AV1,
// datachannel=0, audio=0, video=0, dc=ordered|unordered-rexmit0|unordered-life500,
// chime=0 (a test does not wait to hear the server's chime),
// audiocodec=opus/48000/2|G722/8000|PCMU/8000|PCMA/8000, resolution=WxH, stun=0 preset the
// options; dcmodes=all opens one channel of each parameter set at once (for tests); test=1 (with the server's
// --test-results) posts a result to /result once the call has shown enough, or after 40 s.
'use strict';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let pc = null;
let dc = null;
let pingTimer = null;
let statsTimer = null;
let lastStats = null;
// When getStats first showed a decoded video frame, and how many: the mean decoded frame rate
// since then is in a test's result.
let firstDecoded = null;
let pings = 0;
let pongs = 0;
// Pongs per channel label.
let pongsBy = {};
const channels = [];
// The three parameter sets of aiortc's demo page.
const DC_PARAMS = {
  ordered: { ordered: true },
  'unordered-rexmit0': { ordered: false, maxRetransmits: 0 },
  'unordered-life500': { ordered: false, maxPacketLifeTime: 500 },
};
let latestFigures = {};

// What the server's audio sounds like: every 250 ms the loudest frequency between 100 Hz and
// 4 kHz of the remote audio, and how often it was one of the server's chime notes (660 and
// 880 Hz) rather than, say, this browser's own microphone sent back.
let tone = { samples: 0, chime: 0, last_hz: null, last_db: null };
let toneTimer = null;

function startToneMeter(track) {
  // Chromium pulls a remote track's audio only while a media element plays it.
  const sink = new Audio();
  sink.srcObject = new MediaStream([track]);
  sink.play().catch(() => {});
  const ctx = new AudioContext();
  ctx.resume().catch(() => {});
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 8192;
  ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const bins = new Float32Array(analyser.frequencyBinCount);
  const hzPerBin = ctx.sampleRate / analyser.fftSize;
  clearInterval(toneTimer);
  tone = { samples: 0, chime: 0, last_hz: null, last_db: null };
  toneTimer = setInterval(() => {
    analyser.getFloatFrequencyData(bins);
    let best = -1;
    for (let i = Math.ceil(100 / hzPerBin); i < Math.floor(4000 / hzPerBin); i++) {
      if (best < 0 || bins[i] > bins[best]) best = i;
    }
    if (best < 0 || !Number.isFinite(bins[best]) || bins[best] < -80) return;
    const hz = best * hzPerBin;
    tone.samples += 1;
    if (Math.abs(hz - 660) < 25 || Math.abs(hz - 880) < 25) tone.chime += 1;
    tone.last_hz = Math.round(hz);
    tone.last_db = Math.round(bins[best]);
  }, 250);
}

function setOptionsFromQuery() {
  if (params.has('transform')) $('video-transform').value = params.get('transform');
  if (params.has('codec')) $('video-codec').value = params.get('codec');
  if (params.has('dc')) $('dc-params').value = params.get('dc');
  if (params.has('audiocodec')) $('audio-codec').value = params.get('audiocodec');
  if (params.has('resolution')) $('video-resolution').value = params.get('resolution');
  for (const k of ['datachannel', 'audio', 'video']) {
    if (params.get(k) === '0') $('use-' + k).checked = false;
  }
}

function dcLog(line) {
  const log = $('dc-log');
  log.textContent += line + '\n';
  log.scrollTop = log.scrollHeight;
}

function setState(s) {
  $('state').textContent = s;
}

async function start() {
  $('start').disabled = true;
  $('stop').disabled = false;
  $('error').textContent = '';
  pings = 0;
  pongs = 0;
  pongsBy = {};
  await configLoaded;
  const useAudio = $('use-audio').checked;
  const useVideo = $('use-video').checked;
  let stream = null;
  if ((useAudio || useVideo) && !window.isSecureContext) {
    $('error').textContent = `This page came over plain HTTP from ${location.host}: browsers ` +
      'give the camera and microphone only to pages from localhost or over HTTPS. Open it ' +
      'as http://localhost:PORT on the server machine, or restart the server with --https ' +
      '(or --cert-file and --key-file) and open the https:// URL it prints.';
    stop();
    return;
  }
  if (useAudio || useVideo) {
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: useAudio,
        video: useVideo ? resolution() : false,
      });
    } catch (e) {
      $('error').textContent = (e.name === 'NotAllowedError' || e.name === 'SecurityError')
        ? 'The camera or microphone was denied: allow it in the browser (and serve the page ' +
          'from localhost or over HTTPS), or untick audio and video.'
        : `Could not open the camera or microphone: ${e.name}: ${e.message}`;
      stop();
      return;
    }
    $('local').srcObject = stream;
  }

  pc = new RTCPeerConnection({ iceServers: $('use-stun').checked ? iceServers : [] });
  pc.addEventListener('connectionstatechange', () => setState(`connection: ${pc.connectionState}`));
  pc.addEventListener('iceconnectionstatechange', () => {
    if (pc && pc.iceConnectionState === 'failed') {
      $('error').textContent = 'ICE failed: no network path between this browser and the ' +
        'server. Across NAT or a firewall a TURN server is needed: start the server with ' +
        '--turn URL --turn-username U --turn-password P and tick "use STUN/TURN".';
    }
  });
  pc.addEventListener('track', (ev) => {
    if (ev.track.kind === 'video' || !$('remote').srcObject) {
      $('remote').srcObject = ev.streams[0] || new MediaStream([ev.track]);
    }
    if (ev.track.kind === 'audio') startToneMeter(ev.track);
  });

  if (stream) {
    for (const track of stream.getTracks()) {
      const t = pc.addTransceiver(track, { direction: 'sendrecv', streams: [stream] });
      const codec = $('video-codec').value;
      if (track.kind === 'video' && codec !== 'default' && t.setCodecPreferences) {
        // VP9: profile 0 only (8-bit 4:2:0), what the server encodes.
        const all = RTCRtpReceiver.getCapabilities('video').codecs;
        const named = (name) => all.filter((c) => c.mimeType.toLowerCase() === `video/${name}`);
        const wanted = named(codec.toLowerCase())
          .filter((c) => codec !== 'VP9' || !/profile-id=[1-9]/.test(c.sdpFmtpLine || ''));
        // AV1: the server decodes it but has no AV1 encoder, so VP8 goes after it in the
        // offer; the server answers with both, receives AV1 and sends VP8 back.
        if (wanted.length && codec === 'AV1') wanted.push(...named('vp8'));
        if (wanted.length) t.setCodecPreferences(wanted);
        else $('error').textContent = `This browser has no ${codec}: default codec used.`;
      }
      const audioCodec = $('audio-codec').value;
      if (track.kind === 'audio' && audioCodec !== 'default' && t.setCodecPreferences) {
        const [name, rate] = audioCodec.split('/');
        const wanted = RTCRtpReceiver.getCapabilities('audio').codecs.filter((c) =>
          c.mimeType.toLowerCase() === `audio/${name.toLowerCase()}` &&
          String(c.clockRate) === rate);
        if (wanted.length) t.setCodecPreferences(wanted);
        else $('error').textContent = `This browser has no ${audioCodec}: default codec used.`;
      }
    }
  }

  if ($('use-datachannel').checked) {
    const modes = params.get('dcmodes') === 'all' ? Object.keys(DC_PARAMS) : [$('dc-params').value];
    for (const mode of modes) {
      const channel = pc.createDataChannel(mode === modes[0] ? 'chat' : `chat-${mode}`,
        DC_PARAMS[mode]);
      if (!dc) dc = channel;
      channels.push(channel);
      pongsBy[mode] = 0;
      channel.addEventListener('open', () => dcLog(`> open (${mode})`));
      channel.addEventListener('close', () => dcLog(`> close (${mode})`));
      channel.addEventListener('message', (ev) => {
        if (typeof ev.data === 'string' && ev.data.startsWith('figures ')) {
          showServerFigures(ev.data.slice('figures '.length));
          return;
        }
        dcLog(`< ${ev.data}` + (modes.length > 1 ? ` (${mode})` : ''));
        if (typeof ev.data === 'string' && ev.data.startsWith('pong ')) {
          pongs++;
          pongsBy[mode]++;
        }
      });
    }
    pingTimer = setInterval(() => {
      const msg = `ping ${pings++}`;
      dcLog('> ' + msg);
      for (const c of channels) if (c.readyState === 'open') c.send(msg);
    }, 1000);
  }

  await pc.setLocalDescription(await pc.createOffer());
  // Every candidate goes in the offer: wait for gathering.
  if (pc.iceGatheringState !== 'complete') {
    await new Promise((resolve) => {
      const check = () => {
        if (pc.iceGatheringState === 'complete') {
          pc.removeEventListener('icegatheringstatechange', check);
          resolve();
        }
      };
      pc.addEventListener('icegatheringstatechange', check);
    });
  }
  const offer = pc.localDescription;
  $('sdp-log').textContent = 'offer:\n' + offer.sdp;
  const response = await fetch('/offer', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      sdp: offer.sdp,
      type: offer.type,
      video_transform: $('video-transform').value,
    }),
  });
  if (!response.ok) {
    $('error').textContent = `The server refused the offer: ${await response.text()}`;
    stop();
    return;
  }
  const answer = await response.json();
  $('sdp-log').textContent += '\nanswer:\n' + answer.sdp;
  await pc.setRemoteDescription(answer);
  statsTimer = setInterval(updateStats, 1000);
}

function stop() {
  $('start').disabled = false;
  $('stop').disabled = true;
  clearInterval(pingTimer);
  clearInterval(statsTimer);
  clearInterval(toneTimer);
  for (const c of channels) c.close();
  channels.length = 0;
  dc = null;
  if (pc) {
    for (const t of pc.getTransceivers()) {
      if (t.sender && t.sender.track) t.sender.track.stop();
    }
    pc.close();
  }
  pc = null;
  lastStats = null;
  firstDecoded = null;
  history = [];
  const local = $('local').srcObject;
  if (local) for (const t of local.getTracks()) t.stop();
  $('local').srcObject = null;
  $('remote').srcObject = null;
  setState('stopped');
}

// The last minute of each figure, drawn on the plots canvas once a second.
const PLOTS = [
  { key: 'bitrate_in', title: 'bitrate in', unit: 'kb/s', scale: 1e-3 },
  { key: 'bitrate_out', title: 'bitrate out', unit: 'kb/s', scale: 1e-3 },
  { key: 'fps', title: 'frames/s', unit: '', scale: 1 },
  { key: 'rtt', title: 'RTT', unit: 'ms', scale: 1e3 },
  { key: 'loss', title: 'loss', unit: '%', scale: 100 },
  { key: 'jitter', title: 'jitter', unit: 'ms', scale: 1e3 },
];
const PLOT_POINTS = 60;
let history = [];

function drawPlots() {
  const canvas = $('plots');
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const w = canvas.width / PLOTS.length;
  const h = canvas.height;
  ctx.font = '12px system-ui, sans-serif';
  PLOTS.forEach((p, i) => {
    const x0 = i * w + 8;
    const values = history.map((f) => (typeof f[p.key] === 'number' ? f[p.key] * p.scale : null));
    const known = values.filter((v) => v !== null && isFinite(v));
    const max = Math.max(1e-9, ...known) * 1.1;
    ctx.fillStyle = '#333';
    const last = known.length ? known[known.length - 1] : null;
    ctx.fillText(`${p.title} ${last === null ? '–' : last.toFixed(last < 10 ? 1 : 0)} ${p.unit}`, x0, 14);
    ctx.strokeStyle = '#ddd';
    ctx.strokeRect(x0, 22, w - 16, h - 30);
    ctx.strokeStyle = ['#1565c0', '#2e7d32', '#6a1b9a', '#ef6c00', '#c62828', '#00838f'][i];
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let pen = false;
    values.forEach((v, j) => {
      if (v === null || !isFinite(v)) { pen = false; return; }
      const x = x0 + ((w - 16) * j) / (PLOT_POINTS - 1);
      const y = h - 8 - ((h - 30) * v) / max;
      if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      pen = true;
    });
    ctx.stroke();
  });
}

function resolution() {
  const [width, height] = $('video-resolution').value.split('x').map(Number);
  return { width, height };
}

function formatBitrate(bps) {
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mb/s` : `${(bps / 1e3).toFixed(0)} kb/s`;
}

async function updateStats() {
  if (!pc) return;
  const report = await pc.getStats();
  const now = performance.now();
  let bytesIn = 0;
  let bytesOut = 0;
  let framesDecoded = 0;
  let fps = null;
  let rtt = null;
  let audioPackets = 0;
  let audioCodecId = null;
  let videoCodecId = null;
  let videoSentCodecId = null;
  let packetsReceived = 0;
  let packetsLost = 0;
  let jitter = null;
  report.forEach((s) => {
    if (s.type === 'inbound-rtp') {
      bytesIn += s.bytesReceived || 0;
      packetsReceived += s.packetsReceived || 0;
      packetsLost += s.packetsLost || 0;
      if (s.jitter !== undefined) jitter = Math.max(jitter || 0, s.jitter);
      if (s.kind === 'audio') {
        audioPackets += s.packetsReceived || 0;
        audioCodecId = s.codecId || audioCodecId;
      }
      if (s.kind === 'video') {
        framesDecoded += s.framesDecoded || 0;
        videoCodecId = s.codecId || videoCodecId;
        if (s.framesPerSecond !== undefined) fps = s.framesPerSecond;
      }
    } else if (s.type === 'outbound-rtp') {
      bytesOut += s.bytesSent || 0;
      if (s.kind === 'video') videoSentCodecId = s.codecId || videoSentCodecId;
    } else if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
      if (s.currentRoundTripTime !== undefined) rtt = s.currentRoundTripTime;
    }
  });
  if (lastStats) {
    const dt = (now - lastStats.time) / 1000;
    const inBps = ((bytesIn - lastStats.bytesIn) * 8) / dt;
    const outBps = ((bytesOut - lastStats.bytesOut) * 8) / dt;
    if (fps === null) fps = (framesDecoded - lastStats.framesDecoded) / dt;
    $('fps').textContent = fps.toFixed(0);
    $('bitrate-in').textContent = formatBitrate(inBps);
    $('bitrate-out').textContent = formatBitrate(outBps);
    const got = packetsReceived - lastStats.packetsReceived;
    const lost = Math.max(0, packetsLost - lastStats.packetsLost);
    latestFigures = {
      fps, bitrate_in: inBps, bitrate_out: outBps, loss: got + lost > 0 ? lost / (got + lost) : 0,
    };
  }
  $('rtt').textContent = rtt === null ? '–' : `${(rtt * 1000).toFixed(1)} ms`;
  latestFigures.rtt = rtt;
  latestFigures.frames_decoded = framesDecoded;
  latestFigures.audio_packets = audioPackets;
  const codec = audioCodecId && report.get(audioCodecId);
  latestFigures.audio_codec = codec ? `${codec.mimeType}/${codec.clockRate}` : null;
  const vcodec = videoCodecId && report.get(videoCodecId);
  latestFigures.video_codec = vcodec ? vcodec.mimeType : null;
  const sentCodec = videoSentCodecId && report.get(videoSentCodecId);
  latestFigures.video_codec_sent = sentCodec ? sentCodec.mimeType : null;
  latestFigures.jitter = jitter;
  if (lastStats) {
    history.push({ ...latestFigures });
    if (history.length > PLOT_POINTS) history.shift();
    drawPlots();
  }
  lastStats = { time: now, bytesIn, bytesOut, framesDecoded, packetsReceived, packetsLost };
  if (framesDecoded > 0 && !firstDecoded) firstDecoded = { time: now, frames: framesDecoded };
  if (firstDecoded && now > firstDecoded.time) {
    latestFigures.decoded_per_second =
      ((framesDecoded - firstDecoded.frames) * 1000) / (now - firstDecoded.time);
  }
}

// A video element's picture drawn on a canvas: its size, RGBA pixels and luma.
function pixelsOf(video) {
  const w = video.videoWidth;
  const h = video.videoHeight;
  if (!w || !h) return null;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(video, 0, 0, w, h);
  const data = ctx.getImageData(0, 0, w, h).data;
  const luma = new Float32Array(w * h);
  for (let p = 0; p < w * h; p++) {
    luma[p] = 0.299 * data[4 * p] + 0.587 * data[4 * p + 1] + 0.114 * data[4 * p + 2];
  }
  return { w, h, data, luma };
}

// The fraction of the four corner squares (an eighth of each side) that is black: what a
// rotation uncovers.
function cornersDark({ w, h, luma }) {
  const cw = Math.floor(w / 8);
  const ch = Math.floor(h / 8);
  let dark = 0;
  let all = 0;
  for (let row = 0; row < h; row++) {
    if (row >= ch && row < h - ch) continue;
    for (let x = 0; x < w; x++) {
      if (x >= cw && x < w - cw) continue;
      all++;
      if (luma[row * w + x] < 24) dark++;
    }
  }
  return all ? dark / all : 0;
}

// The most of cornersDark the remote picture showed at any of a test call's polls: a
// rotating picture's corners are black most of the time, but not while it passes upside
// down (at 45 degrees a second, about a second in every four).
let cornersDarkMax = 0;

// A video element's picture (for a test's result): the fractions of dark and bright pixels
// (by luma), of black in the corners, the mean colourfulness (max - min of R, G, B), the
// mean luma, and the texture: the median, over 8x8 blocks, of the luma's standard deviation
// in the block (a flat picture has none; the median passes over the few blocks an outline or
// a moving shape crosses).
function pictureFigures(video) {
  const px = pixelsOf(video);
  if (!px) {
    return { width: 0, height: 0, dark: 0, bright: 0, corners_dark: 0, colour: 0, texture: 0, luma: 0 };
  }
  const { w, h, data, luma } = px;
  const n = w * h;
  let dark = 0;
  let bright = 0;
  let colour = 0;
  let lumaSum = 0;
  for (let p = 0; p < n; p++) {
    const y = luma[p];
    lumaSum += y;
    if (y < 48) dark++;
    else if (y > 180) bright++;
    const [r, g, b] = [data[4 * p], data[4 * p + 1], data[4 * p + 2]];
    colour += Math.max(r, g, b) - Math.min(r, g, b);
  }
  const deviations = [];
  for (let by = 0; by + 8 <= h; by += 8) {
    for (let bx = 0; bx + 8 <= w; bx += 8) {
      let s = 0;
      let s2 = 0;
      for (let y = by; y < by + 8; y++) {
        for (let x = bx; x < bx + 8; x++) {
          const v = luma[y * w + x];
          s += v;
          s2 += v * v;
        }
      }
      deviations.push(Math.sqrt(Math.max(0, s2 / 64 - (s / 64) ** 2)));
    }
  }
  deviations.sort((a, b) => a - b);
  const round = (v) => Math.round(v * 1e4) / 1e4;
  return {
    width: w, height: h, dark: round(dark / n), bright: round(bright / n),
    corners_dark: round(cornersDark(px)),
    colour: round(colour / n),
    texture: deviations.length ? round(deviations[deviations.length >> 1]) : 0,
    luma: round(lumaSum / n),
  };
}

// How many points the plots hold, and the fraction of the canvas drawn on.
function plotFigures() {
  const canvas = $('plots');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++;
  return { points: history.length, inked: inked / (canvas.width * canvas.height) };
}

// The server's own figures (after each pong, over the data channel): frames and mean
// decode, transform and encode time per frame since its last figures.
let serverFigures = null;
function showServerFigures(json) {
  try {
    serverFigures = JSON.parse(json);
  } catch (e) {
    return;
  }
  const ms = (v) => (typeof v === 'number' ? `${v.toFixed(1)} ms` : '–');
  $('server-decode').textContent = ms(serverFigures.decode_ms);
  $('server-transform').textContent = ms(serverFigures.transform_ms);
  $('server-encode').textContent = ms(serverFigures.encode_ms);
  $('server-dropped').textContent = String(serverFigures.dropped ?? '–');
}

// How many lines of each side's SDP the page shows (under its SDP toggle).
function sdpLines() {
  const [offer, answer] = $('sdp-log').textContent.split('\nanswer:\n');
  const count = (text) => (text || '').split('\n').filter((l) => /^[a-z]=/.test(l)).length;
  return { offer: count(offer), answer: count(answer) };
}

// The video RTP stream figures of getStats, both ways, for a test's result.
async function videoStats() {
  const out = {};
  if (!pc) return out;
  const pick = (s, names) => Object.fromEntries(names.map((n) => [n, s[n]]));
  (await pc.getStats()).forEach((s) => {
    if (s.kind !== 'video') return;
    if (s.type === 'inbound-rtp') {
      out.inbound = pick(s, ['packetsReceived', 'packetsLost', 'framesReceived', 'framesDecoded',
        'keyFramesDecoded', 'framesDropped', 'pliCount', 'firCount', 'nackCount', 'frameWidth',
        'freezeCount', 'jitterBufferEmittedCount']);
    } else if (s.type === 'outbound-rtp') {
      out.outbound = pick(s, ['packetsSent', 'framesEncoded', 'keyFramesEncoded', 'framesSent',
        'pliCount', 'firCount', 'nackCount', 'frameWidth', 'qualityLimitationReason']);
    }
  });
  return out;
}

async function runTest() {
  const started = performance.now();
  const wantVideo = $('use-video').checked;
  const wantPongs = $('use-datachannel').checked ? 3 : 0;
  const wantAudio = $('use-audio').checked ? 50 : 0;
  // chime=0: the call does not wait for the chime (headless Firefox's audio graph hears
  // nothing of a remote track, so it would wait the whole 40 s).
  const wantChime = wantAudio && params.get('chime') !== '0';
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    await updateStats();
    const px = pixelsOf($('remote'));
    if (px) cornersDarkMax = Math.max(cornersDarkMax, cornersDark(px));
    const enough = (!wantVideo || (latestFigures.frames_decoded || 0) > 30) &&
      Object.values(pongsBy).every((n) => n >= wantPongs) &&
      (latestFigures.audio_packets || 0) >= wantAudio &&
      (!wantChime || tone.chime >= 6);
    const late = performance.now() - started > 40000;
    if (enough || late) break;
  }
  const picture = pictureFigures($('remote'));
  picture.corners_dark_max = Math.round(Math.max(cornersDarkMax, picture.corners_dark) * 1e4) / 1e4;
  const result = {
    transform: $('video-transform').value,
    codec: $('video-codec').value,
    frames_decoded: latestFigures.frames_decoded || 0,
    fps: latestFigures.fps,
    decoded_per_second: Math.round((latestFigures.decoded_per_second || 0) * 10) / 10,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    pings,
    pongs,
    pongs_by_mode: pongsBy,
    audio_codec: latestFigures.audio_codec,
    video_codec: latestFigures.video_codec,
    video_codec_sent: latestFigures.video_codec_sent,
    audio_packets: latestFigures.audio_packets || 0,
    audio_tone: tone,
    rtt: latestFigures.rtt,
    picture,
    local_picture: pictureFigures($('local')),
    plots: plotFigures(),
    error: $('error').textContent,
    connection: pc ? pc.connectionState : 'none',
    video_stats: await videoStats(),
    sdp_lines: sdpLines(),
    server: serverFigures,
  };
  await fetch('/result', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(result),
  });
}

// The server's --stun and --turn servers, used when 'use STUN/TURN' is ticked.
let iceServers = [];
async function loadConfig() {
  try {
    const config = await (await fetch('/config')).json();
    iceServers = config.iceServers || [];
  } catch (e) {
    iceServers = [];
  }
  const urls = iceServers.flatMap((s) => s.urls);
  $('use-stun').checked = urls.length > 0 && params.get('stun') !== '0';
  $('use-stun').disabled = urls.length === 0;
  $('ice-servers').textContent = urls.length
    ? `(${urls.join(', ')})`
    : '(none: start the server with --stun URL or --turn URL)';
}
const configLoaded = loadConfig();

$('start').addEventListener('click', start);
$('stop').addEventListener('click', stop);
setOptionsFromQuery();
if (params.get('autostart') === '1') {
  configLoaded.then(start).then(() => {
    if (params.get('test') === '1') runTest();
  }, (e) => {
    $('error').textContent = `Start failed: ${e}`;
  });
}
