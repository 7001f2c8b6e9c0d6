/**
 * The name an output's download gets: after the task's input, as a user would name it by hand
 * (`song.mp3` for a conversion of song.wav, `song-vocals.wav` for its vocals), so a folder of
 * downloads reads like the folder the inputs came from. Decided once, when the output is stored.
 */

const MAX_BASE_CHARS = 100;

/**
 * What an output's file name starts with: the input's own name without its extension (the
 * uploaded file's name, or the last segment of the input URL's path), else the task's title, else
 * the task id (a generated track has no input and maybe no title, and its name must still be its own).
 */
export function outputBaseName(source: { uploadFileName?: string | null; inputUrl?: string | null; title?: string | null; taskId: string }): string {
  return (
    clean(withoutExtension(source.uploadFileName ?? '')) ??
    clean(withoutExtension(lastPathSegment(source.inputUrl))) ??
    clean(source.title ?? '') ??
    source.taskId
  );
}

/**
 * `<base>.<format>` when the output's name only repeats its format (an extract target named after
 * it, "mp3"), else `<base>-<name>.<format>`.
 */
export function outputFileName(base: string, output: { name: string; format: string }): string {
  return output.name === output.format ? `${base}.${output.format}` : `${base}-${output.name}.${output.format}`;
}

function lastPathSegment(url: string | null | undefined): string {
  if (!url) return '';
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return '';
  }
  const segment = path.split('/').filter(Boolean).pop() ?? '';
  try {
    return decodeURIComponent(segment);
  } catch {
    // A malformed escape: the raw segment is still a better name than none.
    return segment;
  }
}

function withoutExtension(name: string): string {
  return name.replace(/\.[A-Za-z0-9]{1,5}$/, '');
}

/**
 * A name that is safe on every file system and in a URL path: no separators, no characters
 * Windows refuses, no control characters, no leading dots (hidden files), one space at most at a
 * time, and not too long. Null when nothing is left.
 */
function clean(name: string): string | null {
  const safe = name
    .replace(/[\\/:*?"<>|\p{Cc}\p{Cf}]/gu, '_')
    .replace(/\s+/gu, ' ')
    .trim()
    .replace(/^[.\s_]+/u, '');
  const cut = [...safe].slice(0, MAX_BASE_CHARS).join('').trim();
  return cut === '' || /^_+$/.test(cut) ? null : cut;
}
