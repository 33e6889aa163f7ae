"""Files in and out: probe (what a video holds, the stereo words), reader (the one decoder core),
writer (video and PNG sequences, audio copied over a range), mp4meta (360° boxes), images (stills)."""
