/**
 * From a free-text prompt ("lofi chill, piano, vinyl crackle") to the choices the composer and renderer make:
 * a genre preset (drum feel, tempo, harmony, mix) with the instruments the tags name laid over it.
 * Matching is by keyword, so unknown words are simply ignored.
 */
export type Genre = 'pop' | 'lofi' | 'rock' | 'edm' | 'ambient' | 'jazz' | 'hiphop';
export type DrumFeel = 'pop' | 'boombap' | 'rock' | 'four' | 'ambient' | 'jazz' | 'none';
export type Keys = 'piano' | 'epiano' | 'pluck' | 'strings' | 'synth' | 'organ' | 'bell';
export type BassSound = 'sub' | 'synth' | 'upright' | 'pick';
export type BassPattern = 'roots' | 'eighths' | 'offbeat' | 'syncopated' | 'walking' | 'drone';
export type Voicing = 'triad' | 'seventh' | 'ninth' | 'power';

export interface Style {
  genre: Genre;
  /** Default tempo when the request names none; the seed nudges it a little. */
  bpm: number;
  /** Where the off-beat eighth falls, as a fraction of the beat: 0.5 straight, 2/3 full triplet swing. */
  swing: number;
  drums: DrumFeel;
  chords: Keys;
  melody: Keys | null;
  /** A sustained pad under the chords. */
  pad: boolean;
  bass: BassSound;
  bassPattern: BassPattern;
  voicing: Voicing;
  /** Chord changes per bar. */
  changesPerBar: 1 | 2;
  /** How the chords are played: held, re-struck on beats, or arpeggiated. */
  comping: 'hold' | 'beats' | 'arp' | 'stabs';
  /** Master low-pass in Hz (lo-fi's muffled top), or null. */
  lowpass: number | null;
  crackle: boolean;
  /** Reverb send level 0..1. */
  reverb: number;
  /** Duck the music under the kick (EDM pumping). */
  sidechain: boolean;
  /** Timing and velocity looseness 0..1. */
  humanize: number;
  /** Melody notes per beat on average. */
  melodyDensity: number;
  /** Leans the random key choice towards minor (0..1). */
  minorBias: number;
}

const GENRES: Record<Genre, Style> = {
  pop: {
    genre: 'pop', bpm: 108, swing: 0.5, drums: 'pop', chords: 'piano', melody: 'synth', pad: true, bass: 'synth',
    bassPattern: 'eighths', voicing: 'triad', changesPerBar: 1, comping: 'beats', lowpass: null, crackle: false,
    reverb: 0.18, sidechain: false, humanize: 0.2, melodyDensity: 1.2, minorBias: 0.4,
  },
  lofi: {
    genre: 'lofi', bpm: 80, swing: 0.6, drums: 'boombap', chords: 'epiano', melody: 'piano', pad: false, bass: 'sub',
    bassPattern: 'syncopated', voicing: 'ninth', changesPerBar: 1, comping: 'hold', lowpass: 4200, crackle: true,
    reverb: 0.22, sidechain: false, humanize: 0.6, melodyDensity: 0.8, minorBias: 0.7,
  },
  rock: {
    genre: 'rock', bpm: 124, swing: 0.5, drums: 'rock', chords: 'pluck', melody: 'synth', pad: false, bass: 'pick',
    bassPattern: 'eighths', voicing: 'power', changesPerBar: 1, comping: 'beats', lowpass: null, crackle: false,
    reverb: 0.12, sidechain: false, humanize: 0.3, melodyDensity: 1.3, minorBias: 0.5,
  },
  edm: {
    genre: 'edm', bpm: 126, swing: 0.5, drums: 'four', chords: 'synth', melody: 'synth', pad: true, bass: 'synth',
    bassPattern: 'offbeat', voicing: 'seventh', changesPerBar: 1, comping: 'stabs', lowpass: null, crackle: false,
    reverb: 0.2, sidechain: true, humanize: 0, melodyDensity: 1.6, minorBias: 0.7,
  },
  ambient: {
    genre: 'ambient', bpm: 70, swing: 0.5, drums: 'ambient', chords: 'strings', melody: 'bell', pad: false, bass: 'sub',
    bassPattern: 'drone', voicing: 'ninth', changesPerBar: 1, comping: 'hold', lowpass: 6000, crackle: false,
    reverb: 0.45, sidechain: false, humanize: 0.3, melodyDensity: 0.4, minorBias: 0.5,
  },
  jazz: {
    genre: 'jazz', bpm: 132, swing: 0.64, drums: 'jazz', chords: 'piano', melody: 'epiano', pad: false, bass: 'upright',
    bassPattern: 'walking', voicing: 'seventh', changesPerBar: 1, comping: 'stabs', lowpass: null, crackle: false,
    reverb: 0.16, sidechain: false, humanize: 0.5, melodyDensity: 1.4, minorBias: 0.4,
  },
  hiphop: {
    genre: 'hiphop', bpm: 90, swing: 0.56, drums: 'boombap', chords: 'epiano', melody: 'bell', pad: true, bass: 'sub',
    bassPattern: 'syncopated', voicing: 'seventh', changesPerBar: 1, comping: 'hold', lowpass: 9000, crackle: false,
    reverb: 0.15, sidechain: false, humanize: 0.4, melodyDensity: 0.8, minorBias: 0.7,
  },
};

const GENRE_WORDS: Array<[Genre, RegExp]> = [
  ['lofi', /\blo-?\s?fi\b|\bchillhop\b|\bstudy\b|\bbeats to\b/],
  ['hiphop', /\bhip[-\s]?hop\b|\btrap\b|\bboom[-\s]?bap\b|\brap\b/],
  ['edm', /\bedm\b|\bhouse\b|\btechno\b|\btrance\b|\bdance\b|\belectro(nic|nica)?\b|\bclub\b|\bsynthwave\b|\bdisco\b/],
  ['rock', /\brock\b|\bpunk\b|\bmetal\b|\bgrunge\b|\balt(ernative)?\b|\bindie\b/],
  ['jazz', /\bjazz\w*|\bswing\b|\bbebop\b|\bbossa\b|\blounge\b/],
  ['ambient', /\bambient\b|\bdrone\b|\bcinematic\b|\bmeditat\w*|\batmospher\w*|\bspace\b|\bsoundscape\b/],
  ['pop', /\bpop\b/],
];

const KEYS_WORDS: Array<[Keys, RegExp]> = [
  ['epiano', /\b(e-?piano|electric piano|rhodes|wurlitzer|wurli|keys)\b/],
  ['piano', /\bpiano\b/],
  ['pluck', /\bguitar\w*|\bpluck\w*|\bharp\b|\bkoto\b|\bbanjo\b/],
  ['strings', /\bstrings?\b|\bviolin\w*|\bcello\w*|\borchestra\w*|\bpad\b/],
  ['organ', /\borgan\b/],
  ['bell', /\bbells?\b|\bmusic ?box\b|\bglock\w*|\bceleste\b|\bvibraphone\b|\bmarimba\b/],
  ['synth', /\bsynth\w*|\blead\b|\barp\w*/],
];

export interface StyleChoice {
  style: Style;
  /** Tags that decided something, for the record. */
  matched: string[];
  mood: 'minor' | 'major' | null;
  /** Asked for a waltz, i.e. 3/4 unless the request says otherwise. */
  waltz: boolean;
}

export function styleFromPrompt(prompt: string): StyleChoice {
  const text = prompt.toLowerCase();
  const matched: string[] = [];
  const found = GENRE_WORDS.find(([, re]) => re.test(text));
  const genre = found?.[0] ?? 'pop';
  if (found) matched.push(genre);
  const style: Style = { ...GENRES[genre] };

  // Instruments named in the prompt take the lead roles in the order they are named.
  const named = KEYS_WORDS.map(([k, re]) => ({ k, at: text.search(re) }))
    .filter((x) => x.at >= 0)
    .sort((a, b) => a.at - b.at)
    .map((x) => x.k);
  if (named.length > 0) {
    style.chords = named[0]!;
    style.melody = named[1] ?? (named[0] === 'strings' ? style.melody : named[0]!);
    // Strings named but not playing the chords: they hold a pad under them instead.
    if (named.includes('strings') && style.chords !== 'strings') style.pad = true;
    matched.push(...named);
  }
  if (/\b(vinyl|crackle|dusty|tape)\b/.test(text)) {
    style.crackle = true;
    style.lowpass = Math.min(style.lowpass ?? 8000, 8000);
    matched.push('crackle');
  }
  if (/\b(no drums|drumless|without drums|beatless)\b/.test(text)) {
    style.drums = 'none';
    matched.push('no drums');
  }
  if (/\b(dark|muffled|warm)\b/.test(text)) style.lowpass = Math.min(style.lowpass ?? 5000, 5000);
  if (/\b(reverb|spacious|dreamy|ethereal|lush)\b/.test(text)) style.reverb = Math.min(0.6, style.reverb + 0.15);
  if (/\b(chill|relax\w*|calm|slow|mellow)\b/.test(text)) style.bpm = Math.round(style.bpm * 0.9);
  if (/\b(energetic|fast|upbeat|driving|hard)\b/.test(text)) style.bpm = Math.round(style.bpm * 1.1);
  if (/\bno melody\b|\binstrumental bed\b/.test(text)) style.melody = null;
  if (/\bsidechain\w*|\bpumping\b/.test(text)) style.sidechain = true;
  const minor = /\b(sad|dark|melanchol\w*|moody|minor|somber|sombre|night)\b/.test(text);
  const major = /\b(happy|bright|uplifting|cheerful|sunny|major|joyful)\b/.test(text);
  return { style, matched, mood: minor && !major ? 'minor' : major && !minor ? 'major' : null, waltz: /\bwaltz\b/.test(text) };
}
