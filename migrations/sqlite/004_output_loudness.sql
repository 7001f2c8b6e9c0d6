-- Loudness of every output (issue 13.1): EBU R128 integrated loudness, true peak and loudness
-- range as ffmpeg's ebur128 measured the file, and how it was normalised when the target asked.
-- JSON text; outputs made before this have none (NULL).
ALTER TABLE outputs ADD COLUMN loudness TEXT;
