//! What a `load:` run measures beyond its totals: the same metrics for each phase of the profile
//! (so a report can say "idle: …, busy: …"), and the samples of the expected-versus-measured
//! checks — calls refused against Erlang B for the declared trunks, agent waits against Erlang C
//! for the declared agent queue ([`crate::traffic::check`]).
//!
//! Fed one [`CallRecord`] at a time as calls end; memory does not grow with the calls.

use super::RunMetrics;
use crate::engine::record::CallRecord;
use crate::engine::{IvrPlan, LoadPlan, RunPlan};
use crate::scenario::steps::Step;
use crate::traffic::arrivals::Arrival;
use crate::traffic::check::{self, AgentQueueSamples, BlockingSamples};
use crate::traffic::load::Profile;
use std::time::Duration;

/// One phase of the load profile and the calls scheduled in it.
#[derive(Debug, Clone)]
pub struct PhaseMetrics {
    /// The phase's name (`idle`, `busy`, `constant`, `ramp`).
    pub name: String,
    /// Its start, from the start of the run.
    pub start: Duration,
    /// Its end.
    pub end: Duration,
    /// Offered load in the phase, Erlangs (a ramp's average).
    pub offered_erlangs: f64,
    /// Answered call time inside the phase's time window, seconds, whichever phase the calls
    /// were scheduled in.
    pub carried_s: f64,
    /// The metrics of the calls scheduled in the phase.
    pub metrics: RunMetrics,
}

impl PhaseMetrics {
    /// Carried load: answered call time in the phase ÷ its length, Erlangs.
    pub fn carried_erlangs(&self) -> f64 {
        let secs = self.end.saturating_sub(self.start).as_secs_f64();
        if secs > 0.0 {
            self.carried_s / secs
        } else {
            0.0
        }
    }
}

/// Per-phase metrics and check samples of a run with a load profile.
#[derive(Debug, Clone)]
pub struct LoadMetrics {
    /// One entry per profile phase, in order.
    pub phases: Vec<PhaseMetrics>,
    /// Calls refused with 503, by batch (when the load declares its trunks).
    pub blocking: Option<BlockingSamples>,
    /// Agent waits by batch (when the load declares its agents and the flow has an agent step).
    pub agents: Option<AgentQueueSamples>,
    /// Index of the flow's first `agent` step.
    agent_step: Option<usize>,
    /// The profile, to place calls without a phase.
    profile: Profile,
}

impl LoadMetrics {
    /// For a run of `load` whose calls walk `ivr`, over the pre-drawn `schedule` (in start
    /// order: a call's index is its position here).
    pub fn new(load: &LoadPlan, ivr: Option<&IvrPlan>, schedule: &[Arrival]) -> Self {
        let run = load.profile.duration();
        let h = load.holding.mean();
        let phases = (0..load.profile.phase_count())
            .map(|i| {
                let (start, end) = load.profile.phase_span(i).unwrap_or_default();
                PhaseMetrics {
                    name: load.profile.phase_name(i).unwrap_or("phase").to_string(),
                    start,
                    end,
                    offered_erlangs: load.profile.phase_erlangs(i, h),
                    carried_s: 0.0,
                    metrics: RunMetrics::default(),
                }
            })
            .collect::<Vec<_>>();
        let end = schedule.len() as u64;
        let after = |warmup: Duration| schedule.partition_point(|a| a.at < warmup) as u64;
        let blocking = load.trunks.map(|_| {
            let warmup = check::warmup(h, run);
            BlockingSamples::new(warmup, after(warmup), end)
        });
        let agent_step =
            ivr.and_then(|p| p.steps.iter().position(|s| matches!(s, Step::Agent { .. })));
        let agents = load.agents.filter(|_| agent_step.is_some()).map(|q| {
            let warmup = check::warmup(q.handle_time, run);
            AgentQueueSamples::new(q, warmup, phases.len(), after(warmup), end)
        });
        LoadMetrics {
            phases,
            blocking,
            agents,
            agent_step,
            profile: load.profile.clone(),
        }
    }

    /// For `plan`, when it has a load profile and its `schedule`.
    pub fn for_run(plan: &RunPlan, schedule: Option<&[Arrival]>) -> Option<Self> {
        Some(Self::new(
            plan.load.as_ref()?,
            plan.ivr.as_deref(),
            schedule?,
        ))
    }

    /// Adds one finished call; its phase is `r.phase` (or, lacking it, the phase in force when
    /// it was due).
    pub fn record(&mut self, r: &CallRecord) {
        let phase = r
            .phase
            .map(|p| p as usize)
            .or_else(|| {
                let due = Duration::try_from_secs_f64(r.scheduled_ms.max(0.0) / 1000.0).ok()?;
                self.profile.phase_at(due)
            })
            .unwrap_or(0)
            .min(self.phases.len().saturating_sub(1));
        if let Some(p) = self.phases.get_mut(phase) {
            p.metrics.record(r);
        }
        if let Some(a) = r.answered_ms {
            let (from, to) = (a / 1000.0, r.bye_ms.unwrap_or(r.ended_ms) / 1000.0);
            for p in &mut self.phases {
                let overlap = to.min(p.end.as_secs_f64()) - from.max(p.start.as_secs_f64());
                p.carried_s += overlap.max(0.0);
            }
        }
        if let Some(b) = self.blocking.as_mut() {
            b.add(r.index, r.final_code == Some(503));
        }
        if let (Some(q), Some(step), Some(ivr)) = (self.agents.as_mut(), self.agent_step, &r.ivr) {
            // Reached the agent step: an agent answered (a wait was measured), or every step
            // before it passed.
            match ivr.agent_wait_ms.first() {
                Some(w) => q.add(r.index, phase, Some(w / 1000.0)),
                None if ivr.passed >= step => q.add(r.index, phase, None),
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::record::CallTimeline;
    use crate::scenario::runner::StepsResult;
    use crate::scenario::steps::AgentDetect;
    use crate::traffic::check::AgentQueue;
    use crate::traffic::load::{Holding, OfferedLoad, Phase};
    use std::sync::Arc;

    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    /// Two phases (idle 0–10 s at 1 Erl, busy 10–20 s at 2 Erl), 30 trunks, 2 agents, and a
    /// flow of `pause 1s` then `agent`: calls land in their phase, answered time in the phase
    /// windows it overlaps, agent requests (answered or not) in their phase.
    #[test]
    fn calls_are_counted_in_their_phase_and_the_checks_see_their_outcome() {
        let load = LoadPlan {
            profile: Profile::Steps(vec![
                Phase::new("idle", OfferedLoad::Erlangs(1.0), s(10.0)),
                Phase::new("busy", OfferedLoad::Erlangs(2.0), s(10.0)),
            ]),
            holding: Holding::Fixed(s(1.0)),
            trunks: Some(30),
            agents: Some(AgentQueue {
                agents: 2,
                handle_time: s(1.0),
                overhead: Duration::ZERO,
            }),
            series_interval: None,
        };
        let steps: Arc<[Step]> = vec![
            Step::Pause(s(1.0)),
            Step::Agent {
                dtmf: None,
                detect: AgentDetect::Reinvite,
                timeout: s(30.0),
            },
        ]
        .into();
        let ivr = IvrPlan::load(steps, None).unwrap();
        let arrival = |index: u64, at: f64, phase: usize| Arrival {
            index,
            at: s(at),
            phase,
            holding: s(1.0),
        };
        let schedule = [
            arrival(0, 0.5, 0),
            arrival(1, 8.0, 0),
            arrival(2, 9.0, 0),
            arrival(3, 15.0, 1),
        ];
        let mut lm = LoadMetrics::new(&load, Some(&ivr), &schedule);
        // Warm-up: 3 × 1 s holding (or handle) time, at most a tenth of 20 s: 2 s.
        assert_eq!(lm.blocking.as_ref().unwrap().warmup, s(2.0));
        #[allow(clippy::disallowed_methods)]
        let origin = std::time::Instant::now();
        let call = |index: u64, phase: Option<u32>, span: Option<(f64, f64)>| {
            let mut c = CallTimeline::new(index, "x".into(), origin, origin);
            c.record.scheduled_ms = schedule[index as usize].at.as_secs_f64() * 1000.0;
            c.record.phase = phase;
            if let Some((a, b)) = span {
                c.record.answered_ms = Some(a * 1000.0);
                c.record.final_code = Some(200);
                c.record.bye_ms = Some(b * 1000.0);
                c.record.ended_ms = b * 1000.0;
            }
            c.record
        };
        // Call 0: waited 0.4 s for an agent (overhead included).
        let mut r = call(0, Some(0), Some((1.0, 3.0)));
        r.ivr = Some(StepsResult {
            steps: 2,
            passed: 2,
            completed: true,
            agent_wait_ms: vec![400.0],
            ..StepsResult::default()
        });
        lm.record(&r);
        // Call 1: hung up during the pause, before the agent step.
        let mut r = call(1, Some(0), Some((8.0, 8.5)));
        r.ivr = Some(StepsResult {
            steps: 2,
            ..StepsResult::default()
        });
        lm.record(&r);
        // Call 2: answered across the phase boundary, reached the agent step, got no agent.
        let mut r = call(2, Some(0), Some((9.0, 12.0)));
        r.ivr = Some(StepsResult {
            steps: 2,
            passed: 1,
            ..StepsResult::default()
        });
        lm.record(&r);
        // Call 3: no phase in the record (placed by its due time), refused with 503.
        let mut r = call(3, None, None);
        r.final_code = Some(503);
        r.ended_ms = 15_001.0;
        lm.record(&r);

        let (idle, busy) = (&lm.phases[0], &lm.phases[1]);
        assert_eq!((idle.name.as_str(), busy.name.as_str()), ("idle", "busy"));
        assert_eq!((idle.start, idle.end, busy.end), (s(0.0), s(10.0), s(20.0)));
        assert_eq!((idle.offered_erlangs, busy.offered_erlangs), (1.0, 2.0));
        assert_eq!((idle.metrics.attempted, busy.metrics.attempted), (3, 1));
        assert_eq!(busy.metrics.sip_codes.get(&503), Some(&1));
        // Answered time: 2 + 0.5 + 1 s in the idle window, 2 s of call 2 in the busy one.
        assert!((idle.carried_s - 3.5).abs() < 1e-9 && (busy.carried_s - 2.0).abs() < 1e-9);
        assert!((idle.carried_erlangs() - 0.35).abs() < 1e-9);
        let q = lm.agents.as_ref().unwrap();
        assert_eq!(q.requests, vec![2, 0]);
        assert_eq!((q.served, q.unserved, q.min_wait_s), (1, 1, Some(0.4)));
        // Call 0 is in the warm-up: its wait is not in the batches.
        assert_eq!(q.wait.total_weight(), 0.0);
        // Calls 1–3 are after the warm-up; one of them was refused.
        let b = lm.blocking.as_ref().unwrap();
        assert_eq!((b.refused.total_weight(), b.refused.total()), (3.0, 1.0));
    }
}
