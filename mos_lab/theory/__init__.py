"""Music theory on top of the Score: spelled pitches, intervals, scales, keys, chords,
Roman-numeral analysis, RomanText and part-writing checks (one layer for everything above)."""
