#!/usr/bin/env bash
# Regenerates the prompt audio of the Callcert Bank IVR (scenarios/ivr/bank.yaml).
#
# Same pipeline as scenarios/prompts/make.sh: espeak-ng speech, resampled to 8 kHz mono 16-bit
# PCM, normalised to -3 dBFS, with exactly 100 ms of digital silence before the first voiced
# sample (leading silence trimmed at 1 % of full scale, then padded with 800 zero samples) and
# 200 ms after the last. The IVR system speaks with one voice and the agent with another, so a
# caller (or the harness) can tell the queue from the agent.
#
# Needs espeak-ng and sox (Debian: apt-get install -y espeak-ng sox).
set -euo pipefail
cd "$(dirname "$0")"

SYSTEM="en-us"            # the IVR's recorded voice
AGENT="en-gb-x-rp+f4"     # Anna, the agent

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

make welcome "$SYSTEM" 150 45 \
    "Welcome to Callcert Bank."
make main_menu "$SYSTEM" 200 45 \
    "For your balance press 1, for cards press 2, for an agent press 0."
make enter_account "$SYSTEM" 190 45 \
    "Enter your account number and hash."
make balance "$SYSTEM" 200 45 \
    "Your balance is one thousand two hundred and thirty-four yuan."
make card_menu "$SYSTEM" 200 45 \
    "Lost card? Press 1, to go back press star."
make card_blocked "$SYSTEM" 175 45 \
    "Okay, your card is now blocked."
make invalid "$SYSTEM" 185 45 \
    "I'm sorry, that is not a valid choice."
make hold "$SYSTEM" 185 45 \
    "All agents are busy, please hold."
make agent_greeting "$AGENT" 180 60 \
    "Hi, this is Anna, how can I help you?"
make goodbye "$SYSTEM" 165 45 \
    "Thank you for calling, goodbye."
