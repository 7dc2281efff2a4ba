//! What a session sends, sample by sample: a background source (the caller's voice, or
//! silence) with clips scheduled on top of it at exact sample positions of the outgoing stream
//! (prompts of the reference call center, the caller's speech, in-band DTMF tones).
//!
//! Positions are *stream samples*: sample `k` of the stream is sent in the packet due at
//! `start + ⌊k / 160⌋ × 20 ms`, at offset `k mod 160` inside it, so a receiver that stamps each
//! sample with its packet's arrival plus its offset sees sample `k` at `start + k / 8 kHz`. A
//! clip scheduled for an instant therefore starts on the wire at that instant, not at the next
//! packet boundary.

use super::audio::{AudioCursor, AudioSource};
use super::rtp::SAMPLES_PER_PACKET;
use std::collections::VecDeque;

/// A clip placed on the outgoing stream.
#[derive(Debug, Clone)]
struct Clip {
    /// Stream sample of its first sample.
    start: u64,
    audio: AudioSource,
    looping: bool,
    /// Stream sample where it is cut (exclusive), if it is.
    end: Option<u64>,
    /// Offset in the clip whose passing is reported as a [`PlayoutMark`] (exclusive end of the
    /// last DTMF tone, for example).
    mark_at: Option<u64>,
    /// Caller's tag, returned in the mark.
    tag: u32,
}

/// A marked position of a clip went out in this frame, at this sample offset within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayoutMark {
    /// The tag the clip was scheduled with.
    pub tag: u32,
    /// Offset of the marked position within the frame (0..=160; 160 means at its end).
    pub offset: u16,
}

#[derive(Debug, Clone)]
struct Active {
    clip: Clip,
    /// Next sample of the clip to play.
    pos: usize,
}

/// The outgoing audio of a session.
#[derive(Debug, Clone)]
pub struct Playout {
    background: AudioCursor,
    queued: VecDeque<Clip>,
    active: Option<Active>,
    /// Stream sample of the next frame's first sample.
    next: u64,
}

impl Playout {
    /// Plays `background` (looping if asked) wherever no clip plays.
    pub fn new(background: &AudioSource, looping: bool) -> Self {
        Self {
            background: background.cursor(looping),
            queued: VecDeque::new(),
            active: None,
            next: 0,
        }
    }

    /// Stream sample of the next frame to be filled.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Schedules `audio` to start at stream sample `start` (or with the next frame if that has
    /// passed), replacing what plays then. With `looping` it repeats until stopped. `mark_at`
    /// names an offset in the clip to be reported with `tag` when it goes out. Clips scheduled
    /// later than this one are dropped (a new prompt replaces the queue).
    pub fn schedule(
        &mut self,
        audio: AudioSource,
        start: u64,
        looping: bool,
        mark_at: Option<u64>,
        tag: u32,
    ) {
        let start = start.max(self.next);
        self.queued.retain(|c| c.start < start);
        self.queued.push_back(Clip {
            start,
            audio,
            looping,
            end: None,
            mark_at,
            tag,
        });
    }

    /// Stops whatever clip plays at stream sample `at` (or from the next frame) and drops the
    /// clips queued after it; the background resumes.
    pub fn stop(&mut self, at: u64) {
        let at = at.max(self.next);
        self.queued.retain(|c| c.start < at);
        for c in self.queued.iter_mut() {
            c.end = Some(c.end.map_or(at, |e| e.min(at)));
        }
        if let Some(a) = self.active.as_mut() {
            a.clip.end = Some(a.clip.end.map_or(at, |e| e.min(at)));
        }
    }

    /// True while a clip plays or waits to.
    pub fn is_busy(&self) -> bool {
        self.active.is_some() || !self.queued.is_empty()
    }

    /// Skips `frames` frames (the sender fell behind); clips advance with the stream.
    pub fn skip(&mut self, frames: u64) {
        let mut scratch = [0i16; SAMPLES_PER_PACKET];
        // Bounded by the session's catch-up policy; keeps clip positions exact.
        for _ in 0..frames.min(50) {
            self.fill(&mut scratch);
        }
        let rest = frames.saturating_sub(50);
        if rest > 0 {
            self.background
                .skip((rest as usize).saturating_mul(SAMPLES_PER_PACKET));
            self.next += rest * SAMPLES_PER_PACKET as u64;
            self.active = None;
            self.queued.retain(|c| c.looping || c.end.is_none());
        }
    }

    /// Fills the next frame; returns the mark that went out in it, if any.
    pub fn fill(&mut self, out: &mut [i16; SAMPLES_PER_PACKET]) -> Option<PlayoutMark> {
        self.background.next_frame(out);
        if self.active.is_none() && self.queued.is_empty() {
            // Only the background plays (every frame of a call without IVR).
            self.next += SAMPLES_PER_PACKET as u64;
            return None;
        }
        let mut mark = None;
        let first = self.next;
        for (i, sample) in out.iter_mut().enumerate() {
            let k = first + i as u64;
            if self.queued.front().is_some_and(|c| c.start <= k) {
                let clip = self.queued.pop_front().expect("front checked");
                self.active = Some(Active { clip, pos: 0 });
            }
            let Some(a) = self.active.as_mut() else {
                continue;
            };
            if a.clip.end.is_some_and(|e| e <= k) {
                self.active = None;
                continue;
            }
            let samples = a.clip.audio.samples();
            if a.pos >= samples.len() {
                if a.clip.looping && !samples.is_empty() {
                    a.pos = 0;
                } else {
                    // A mark at the end of a clip that ends inside this frame: it went out
                    // just before this sample.
                    if a.clip.mark_at == Some(a.pos as u64) {
                        mark = Some(PlayoutMark {
                            tag: a.clip.tag,
                            offset: i as u16,
                        });
                    }
                    self.active = None;
                    continue;
                }
            }
            if a.clip.mark_at == Some(a.pos as u64) {
                mark = Some(PlayoutMark {
                    tag: a.clip.tag,
                    offset: i as u16,
                });
            }
            *sample = samples[a.pos];
            a.pos += 1;
        }
        // A mark at the very end of a clip (or of this frame).
        if let Some(a) = self.active.as_mut() {
            if a.clip.mark_at == Some(a.pos as u64) {
                mark = Some(PlayoutMark {
                    tag: a.clip.tag,
                    offset: SAMPLES_PER_PACKET as u16,
                });
                a.clip.mark_at = None;
            }
            if a.pos >= a.clip.audio.len() && !a.clip.looping {
                self.active = None;
            }
        }
        self.next += SAMPLES_PER_PACKET as u64;
        mark
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize, base: i16) -> AudioSource {
        AudioSource::from_samples((0..n).map(|i| base + i as i16).collect::<Vec<_>>())
    }

    fn frames(p: &mut Playout, n: usize) -> (Vec<i16>, Vec<(usize, PlayoutMark)>) {
        let mut all = Vec::new();
        let mut marks = Vec::new();
        for f in 0..n {
            let mut buf = [0i16; SAMPLES_PER_PACKET];
            if let Some(m) = p.fill(&mut buf) {
                marks.push((f, m));
            }
            all.extend_from_slice(&buf);
        }
        (all, marks)
    }

    #[test]
    fn clip_starts_at_its_exact_sample_inside_a_frame() {
        let mut p = Playout::new(&AudioSource::silence(), false);
        p.schedule(ramp(100, 1000), 250, false, None, 0);
        let (s, _) = frames(&mut p, 4);
        assert!(s[..250].iter().all(|&x| x == 0));
        assert_eq!(s[250], 1000);
        assert_eq!(s[349], 1099);
        assert!(s[350..].iter().all(|&x| x == 0));
        assert!(!p.is_busy());
    }

    /// A clip that ends inside a frame (it was scheduled off a frame boundary, as when the
    /// sender runs late) still reports its end mark, at the sample after its last.
    #[test]
    fn an_end_mark_inside_a_frame_is_reported() {
        let mut p = Playout::new(&AudioSource::silence(), false);
        // 200 samples from stream sample 50: the last at 249, the end at 250 = frame 1, 90.
        p.schedule(ramp(200, 1), 50, false, Some(200), 5);
        let (s, marks) = frames(&mut p, 3);
        assert_eq!(marks, vec![(1, PlayoutMark { tag: 5, offset: 90 })]);
        assert_eq!(s[249], 200);
        assert_eq!(s[250], 0);
    }

    #[test]
    fn a_mark_reports_the_frame_and_offset_it_went_out_at() {
        let mut p = Playout::new(&AudioSource::silence(), false);
        // Tone ends at clip offset 300 → stream sample 100 + 300 = 400 = frame 2, offset 80.
        p.schedule(ramp(320, 1), 100, false, Some(300), 7);
        let (_, marks) = frames(&mut p, 4);
        assert_eq!(marks, vec![(2, PlayoutMark { tag: 7, offset: 80 })]);
        // A mark at the very end of the clip, on a frame boundary.
        let mut p = Playout::new(&AudioSource::silence(), false);
        p.schedule(ramp(160, 1), 160, false, Some(160), 3);
        let (_, marks) = frames(&mut p, 3);
        assert_eq!(
            marks,
            vec![(
                1,
                PlayoutMark {
                    tag: 3,
                    offset: 160
                }
            )]
        );
    }

    #[test]
    fn stop_cuts_the_clip_and_the_background_resumes() {
        let bg = AudioSource::from_samples(vec![5i16; 1000]);
        let mut p = Playout::new(&bg, true);
        p.schedule(ramp(1000, 100), 0, true, None, 0);
        p.stop(170);
        let (s, _) = frames(&mut p, 2);
        assert_eq!(s[169], 269);
        assert_eq!(s[170], 5);
    }

    #[test]
    fn a_late_clip_starts_with_the_next_frame_and_replaces_the_queue() {
        let mut p = Playout::new(&AudioSource::silence(), false);
        frames(&mut p, 2);
        p.schedule(ramp(10, 1), 500, false, None, 0);
        p.schedule(ramp(10, 50), 10, false, None, 0);
        let (s, _) = frames(&mut p, 3);
        assert_eq!(s[0], 50, "started with the next frame");
        assert!(
            s[10..].iter().all(|&x| x == 0),
            "the later clip was dropped"
        );
    }
}
