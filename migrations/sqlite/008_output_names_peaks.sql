-- Outputs named after their input (issue 11.8): the file name a download gets, e.g. "song-vocals.wav",
-- decided when the output is stored. Outputs made before this have none (NULL) and keep "<name>.<format>".
ALTER TABLE outputs ADD COLUMN file_name TEXT;
-- Waveform peaks of the file (JSON array of numbers 0..1), so clients draw a waveform without
-- downloading the audio. NULL for outputs made before this.
ALTER TABLE outputs ADD COLUMN peaks TEXT;
