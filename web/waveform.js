// Waveform pictures: from the peaks the API gives with each output (256 slices, no download), or,
// for outputs made before the server measured them, from the file itself, fetched once, decoded with
// the Web Audio API and reduced to a min/max pair per pixel column. The picture follows the player
// (played part in colour, click to seek).

// Decoding holds the whole file as float PCM in memory (~10 MB per stereo minute); past this the
// page would grow by hundreds of megabytes for a picture.
export const MAX_WAVEFORM_BYTES = 40 * 1024 * 1024;

/**
 * @param {ArrayBuffer} data
 * @returns {Promise<AudioBuffer>}
 */
async function decode(data) {
  // An offline context decodes without an audio device and without the autoplay rules of a live one.
  const ctx = new OfflineAudioContext(1, 1, 44100);
  return ctx.decodeAudioData(data);
}

/**
 * @param {AudioBuffer} audio
 * @param {number} columns
 */
function peaks(audio, columns) {
  const mins = new Float32Array(columns);
  const maxs = new Float32Array(columns);
  const channels = Array.from({ length: audio.numberOfChannels }, (_, c) => audio.getChannelData(c));
  const per = audio.length / columns;
  for (let x = 0; x < columns; x++) {
    const start = Math.floor(x * per);
    const end = Math.max(start + 1, Math.floor((x + 1) * per));
    let lo = 0;
    let hi = 0;
    // Long columns are sampled with a stride: the shape is the same and a 10-minute track stays instant.
    const step = Math.max(1, Math.floor((end - start) / 2048));
    for (const data of channels) {
      for (let i = start; i < end && i < data.length; i += step) {
        const v = data[i] ?? 0;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    mins[x] = lo;
    maxs[x] = hi;
  }
  // Scaled to the loudest peak, like an editor's "fit": a quiet recording still shows its shape.
  let peak = 0;
  for (let x = 0; x < columns; x++) peak = Math.max(peak, -(mins[x] ?? 0), maxs[x] ?? 0);
  const gain = peak > 1e-4 ? 0.95 / peak : 1;
  for (let x = 0; x < columns; x++) {
    mins[x] = (mins[x] ?? 0) * gain;
    maxs[x] = (maxs[x] ?? 0) * gain;
  }
  return { mins, maxs };
}

/**
 * The API's peaks (loudest |sample| per slice) spread over the canvas columns, mirrored around the
 * middle line, fitted to the loudest like the decoded picture.
 * @param {number[]} slices
 * @param {number} columns
 */
function peaksFromApi(slices, columns) {
  const mins = new Float32Array(columns);
  const maxs = new Float32Array(columns);
  const loudest = Math.max(0, ...slices);
  const gain = loudest > 1e-4 ? 0.95 / loudest : 1;
  for (let x = 0; x < columns; x++) {
    const v = (slices[Math.min(slices.length - 1, Math.floor((x * slices.length) / columns))] ?? 0) * gain;
    mins[x] = -v;
    maxs[x] = v;
  }
  return { mins, maxs };
}

/**
 * @param {HTMLCanvasElement} canvas
 * @param {{ mins: Float32Array, maxs: Float32Array }} p
 * @param {number} played 0..1
 */
function paint(canvas, p, played) {
  const g = canvas.getContext('2d');
  if (!g) return;
  const { width, height } = canvas;
  const style = getComputedStyle(canvas);
  const base = style.getPropertyValue('--wave').trim() || '#a5b4fc';
  const done = style.getPropertyValue('--wave-played').trim() || '#4f46e5';
  g.clearRect(0, 0, width, height);
  const mid = height / 2;
  const playedX = played * width;
  for (let x = 0; x < p.mins.length; x++) {
    const top = mid - (p.maxs[x] ?? 0) * mid;
    const bottom = mid - (p.mins[x] ?? 0) * mid;
    g.fillStyle = x < playedX ? done : base;
    g.fillRect(x, top, 1, Math.max(1, bottom - top));
  }
}

/**
 * Draws the waveform of an output on `canvas` and ties it to `audio`. Sets `data-drawn` when done,
 * and `data-source` to `api` (its peaks) or `decoded` (its file, for outputs without peaks).
 * @param {HTMLCanvasElement} canvas
 * @param {{ url: string, peaks: number[] | null, duration: number | null }} output
 * @param {HTMLAudioElement} audio
 * @param {AbortSignal} signal
 */
export async function drawWaveform(canvas, output, audio, signal) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  canvas.height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  let p;
  let duration = output.duration ?? 0;
  if (output.peaks && output.peaks.length > 0) {
    p = peaksFromApi(output.peaks, canvas.width);
    canvas.dataset.source = 'api';
  } else {
    const res = await fetch(output.url, { signal });
    if (!res.ok) throw new Error(`download answered ${res.status}`);
    const audioData = await decode(await res.arrayBuffer());
    if (signal.aborted) return;
    p = peaks(audioData, canvas.width);
    duration = audioData.duration;
    canvas.dataset.source = 'decoded';
  }
  const redraw = () => paint(canvas, p, audio.duration ? audio.currentTime / audio.duration : 0);
  redraw();
  canvas.dataset.drawn = 'true';
  canvas.dataset.duration = duration.toFixed(3);
  for (const ev of ['timeupdate', 'seeked', 'ended']) audio.addEventListener(ev, redraw, { signal });
  canvas.addEventListener(
    'click',
    (ev) => {
      const box = canvas.getBoundingClientRect();
      const at = (ev.clientX - box.left) / box.width;
      if (Number.isFinite(audio.duration)) audio.currentTime = at * audio.duration;
      else audio.currentTime = at * duration;
    },
    { signal },
  );
}
