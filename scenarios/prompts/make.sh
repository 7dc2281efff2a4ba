#!/usr/bin/env bash
# Regenerates the prompt audio of the reference call center and the default caller.
#
# Needs espeak-ng and sox (Debian: apt-get install -y espeak-ng sox). Output: 8 kHz mono 16-bit
# PCM WAV, normalised to -3 dBFS, with exactly 100 ms of digital silence before the first voiced
# sample (leading silence trimmed at 1 % of full scale, then padded with 800 zero samples) and
# 200 ms after the last. The 100 ms is the ground truth for first-voice detection tests.
set -euo pipefail
cd "$(dirname "$0")"

# make NAME VOICE SPEED PITCH TEXT
make() {
    local name=$1 voice=$2 speed=$3 pitch=$4 text=$5
    local tmp
    tmp=$(mktemp --suffix=.wav)
    espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$tmp" "$text"
    # -D: no dither (the padding stays exact zeros); -R: repeatable output.
    # Resample first so that trimming and padding happen at 8 kHz (no filter ringing in the pad).
    sox -D -R "$tmp" -b 16 -e signed-integer "$name.wav" \
        channels 1 rate 8000 \
        silence 1 0.01 1% reverse silence 1 0.01 1% reverse \
        norm -3 pad 0.1 0.2
    rm -f "$tmp"
}

make welcome en-us 155 50 \
    "Welcome to the callcert reference call center. Your call is important to us."
make caller en-gb+f3 150 65 \
    "Hi, I am calling about my account balance."
make menu en-us+m3 155 45 \
    "For billing, press one. For support, press two. For an agent, press zero."
