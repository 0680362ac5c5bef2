//! The simulation clock: simulated time runs `speed` times faster than real time, so that
//! rollouts, kubelet delays and certificate renewals of hours take milliseconds or seconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// The speed `--sim` and `sim serve` use unless told otherwise: a 2 s pod start takes 2 ms.
pub const DEFAULT_SPEED: f64 = 1000.0;

/// A clock shared by every simulated controller; cheap to clone.
#[derive(Debug, Clone)]
pub struct SimClock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    started_real: Instant,
    started_sim: OffsetDateTime,
    speed: f64,
}

impl SimClock {
    /// A clock that starts at the current wall time and runs `speed` times as fast (at
    /// least 0.001, so that a typo cannot stop time).
    pub fn new(speed: f64) -> Self {
        Self::starting_at(OffsetDateTime::now_utc(), speed)
    }

    /// A clock that starts at `at`.
    pub fn starting_at(at: OffsetDateTime, speed: f64) -> Self {
        let speed = if speed.is_finite() {
            speed.max(0.001)
        } else {
            DEFAULT_SPEED
        };
        Self {
            inner: Arc::new(Inner {
                started_real: Instant::now(),
                started_sim: at,
                speed,
            }),
        }
    }

    pub fn speed(&self) -> f64 {
        self.inner.speed
    }

    /// The simulated time now.
    pub fn now(&self) -> OffsetDateTime {
        let real = self.inner.started_real.elapsed();
        let sim = real.mul_f64(self.inner.speed);
        self.inner.started_sim + sim
    }

    /// How long `sim` simulated time lasts in real time.
    pub fn real(&self, sim: Duration) -> Duration {
        sim.div_f64(self.inner.speed)
    }

    /// Waits until `sim` simulated time has passed.
    pub async fn sleep(&self, sim: Duration) {
        tokio::time::sleep(self.real(sim)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn simulated_time_runs_at_the_given_speed() {
        let clock = SimClock::new(1000.0);
        let before = clock.now();
        let started = Instant::now();
        clock.sleep(Duration::from_secs(20)).await;
        let real = started.elapsed();
        let sim = clock.now() - before;
        assert!(
            real < Duration::from_secs(1),
            "20 s simulated took {real:?}"
        );
        assert!(sim >= time::Duration::seconds(20), "only {sim} passed");
    }

    #[test]
    fn a_nonsense_speed_falls_back() {
        assert!((SimClock::new(f64::NAN).speed() - DEFAULT_SPEED).abs() < f64::EPSILON);
        assert!(SimClock::new(0.0).speed() > 0.0);
    }
}
