//! The pacing against model servers: token buckets, in-flight limits,
//! others; fixed settings; ceilings; latency; memory; lanes.

use super::lanes::Lanes;
use super::*;

fn cfg(rate: Setting<u32>, conc: Setting<usize>) -> PaceConfig {
    PaceConfig {
        rate: match rate {
            Setting::Auto => Setting::Auto,
            Setting::Fixed(r) => Setting::Fixed(NonZeroU32::new(r).unwrap()),
        },
        burst: NonZeroU32::new(10).unwrap(),
        concurrency: match conc {
            Setting::Auto => Setting::Auto,
            Setting::Fixed(n) => Setting::Fixed(NonZeroUsize::new(n).unwrap()),
        },
        max_rate: None,
        max_concurrency: None,
    }
}

/// What a model run achieved: requests answered well, 429s, per span.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    good: u64,
    refused: u64,
}

/// A server with a token bucket of `quota` per second (a second's worth
/// deep) and at most `max_in_flight` at once, each answer after
/// `latency`; a 429 pauses the client one second (its Retry-After).
/// `tasks` workers always have work. Returns tallies for [0, 60) and
/// [60, secs) and the control at the end.
fn model(
    mut c: Control,
    quota: f64,
    max_in_flight: usize,
    latency: f64,
    tasks: usize,
    secs: f64,
) -> (Tally, Tally, Control) {
    let dt = 0.001;
    let mut t = 0.0;
    let mut tokens = quota;
    let mut paused_until = 0.0f64;
    // Requests in flight: when each is answered.
    let mut flying: Vec<f64> = Vec::new();
    let mut busy = vec![false; tasks];
    let mut had_turn = vec![false; tasks];
    let mut owner: Vec<(usize, usize)> = Vec::new();
    let (mut first, mut after) = (Tally::default(), Tally::default());
    while t < secs {
        tokens = (tokens + quota * dt).min(quota);
        // Answers.
        let mut i = 0;
        while i < flying.len() {
            if flying[i] <= t {
                flying.swap_remove(i);
                let (w, in_flight) = owner.swap_remove(i);
                busy[w] = false;
                c.release();
                c.answer(t, Answer::Good { latency, in_flight });
                if t < 60.0 {
                    first.good += 1
                } else {
                    after.good += 1
                }
            } else {
                i += 1;
            }
        }
        if t >= paused_until {
            for w in 0..tasks {
                if busy[w] {
                    continue;
                }
                // (A worker waiting for a slot has had its turn.)
                if !had_turn[w] {
                    if c.try_turn(t).is_err() {
                        continue;
                    }
                    had_turn[w] = true;
                }
                let Some(in_flight) = c.try_slot(t) else {
                    continue;
                };
                had_turn[w] = false;
                if flying.len() >= max_in_flight || tokens < 1.0 {
                    if std::env::var_os("PACE_TRACE").is_some() {
                        eprintln!(
                            "{t:.3} 429 rate {:.2} limit {} in_flight {in_flight} tokens {tokens:.2}",
                            c.rate, c.limit
                        );
                    }
                    c.release();
                    c.answer(t, Answer::RateLimited { in_flight });
                    paused_until = t + 1.0 + 0.05;
                    if t < 60.0 {
                        first.refused += 1
                    } else {
                        after.refused += 1
                    }
                    break;
                }
                tokens -= 1.0;
                flying.push(t + latency);
                owner.push((w, in_flight));
                busy[w] = true;
            }
        }
        if std::env::var_os("PACE_TRACE").is_some()
            && (t * 1000.0).round() as u64 % 5000 == 0
            && t < 100.0
        {
            eprintln!(
                "{t:.3} rate {:.2} limit {} good {}",
                c.rate, c.limit, first.good
            );
        }
        t += dt;
    }
    (first, after, c)
}

fn check(what: &str, tally: Tally, allowed: f64) {
    let total = (tally.good + tally.refused) as f64;
    let achieved = tally.good as f64 / allowed;
    let refused = tally.refused as f64 / total;
    assert!(
        achieved >= 0.95 && refused <= 0.01,
        "{what}: achieved {achieved:.3} of what the server allows, {refused:.4} answered 429 ({tally:?})"
    );
}

#[test]
fn an_auto_rate_finds_a_token_bucket_and_stays_just_under_it() {
    let c = Control::new(&cfg(Setting::Auto, Setting::Auto), 0.0);
    let (first, after, c) = model(c, 20.0, usize::MAX, 0.002, 8, 300.0);
    check("first 60 s", first, 20.0 * 60.0 + 20.0);
    check("after", after, 20.0 * 240.0);
    assert!(c.rate > 18.0 && c.rate < 22.0, "learned {}", c.rate);
}

#[test]
fn auto_concurrency_finds_a_server_in_flight_limit() {
    let c = Control::new(&cfg(Setting::Auto, Setting::Auto), 0.0);
    let (first, after, c) = model(c, f64::INFINITY, 4, 0.05, 16, 300.0);
    // Four at a time, 50 ms each: 80 a second.
    check("first 60 s", first, 80.0 * 60.0);
    check("after", after, 80.0 * 240.0);
    assert_eq!(c.limit, 4);
}

#[test]
fn auto_settles_on_other_servers_too() {
    // (quota, in flight, latency): what each allows a second.
    for (quota, max_in_flight, latency, allows) in [
        (5.0, usize::MAX, 0.01, 5.0),
        (50.0, usize::MAX, 0.01, 50.0),
        (150.0, usize::MAX, 0.002, 150.0),
        (f64::INFINITY, 2, 0.2, 10.0),
        (f64::INFINITY, 12, 0.1, 120.0),
    ] {
        let c = Control::new(&cfg(Setting::Auto, Setting::Auto), 0.0);
        let (_, after, _) = model(c, quota, max_in_flight, latency, 32, 400.0);
        let total = (after.good + after.refused) as f64;
        let achieved = after.good as f64 / (allows * 340.0);
        let refused = after.refused as f64 / total;
        assert!(
            achieved >= 0.9 && refused <= 0.01,
            "quota {quota}, {max_in_flight} in flight, {latency} s: achieved {achieved:.3}, {refused:.4} answered 429"
        );
    }
}

#[test]
fn a_fixed_rate_and_concurrency_never_change() {
    let mut c = Control::new(&cfg(Setting::Fixed(50), Setting::Fixed(3)), 0.0);
    for i in 0..100 {
        let t = f64::from(i) * 0.1;
        c.rate_waited(t);
        c.answer(t, Answer::RateLimited { in_flight: 3 });
        c.answer(
            t,
            Answer::Good {
                latency: 5.0,
                in_flight: 1,
            },
        );
    }
    assert_eq!(
        c.learned(),
        Learned {
            requests_per_second: 50.0,
            concurrency: 3
        }
    );
}

#[test]
fn learned_values_never_pass_the_ceilings_and_grow_only_when_they_hold_work_back() {
    let mut k = cfg(Setting::Auto, Setting::Auto);
    k.max_rate = Some(30.0);
    k.max_concurrency = Some(3);
    let c = Control::new(&k, 0.0);
    let (_, _, c) = model(c, f64::INFINITY, usize::MAX, 0.05, 16, 120.0);
    assert_eq!(c.rate, 30.0);
    assert_eq!(c.limit, 3);
    // Nothing waits: nothing grows.
    let mut c = Control::new(&cfg(Setting::Auto, Setting::Auto), 0.0);
    for i in 0..1000 {
        let t = f64::from(i) * 0.5;
        let s = c.try_slot(t).unwrap();
        assert_eq!(s, 1);
        c.release();
        c.answer(
            t,
            Answer::Good {
                latency: 0.01,
                in_flight: 1,
            },
        );
    }
    assert_eq!(c.rate, START_RATE);
    assert_eq!(c.limit, START_CONCURRENCY);
}

#[test]
fn latency_well_above_its_mean_cuts_concurrency() {
    let mut c = Control::new(&cfg(Setting::Fixed(1000), Setting::Auto), 0.0);
    c.restore(Learned {
        requests_per_second: 0.0,
        concurrency: 8,
    });
    let mut t = 0.0;
    for _ in 0..40 {
        t += 0.1;
        c.answer(
            t,
            Answer::Good {
                latency: 0.05,
                in_flight: 1,
            },
        );
    }
    assert_eq!(c.limit, 8);
    for _ in 0..10 {
        t += 0.1;
        c.answer(
            t,
            Answer::Good {
                latency: 0.5,
                in_flight: 1,
            },
        );
    }
    assert!(c.limit < 8, "{}", c.limit);
}

#[test]
fn in_slow_start_what_is_remembered_is_the_last_level_that_held() {
    let mut c = Control::new(&cfg(Setting::Auto, Setting::Auto), 0.0);
    // Work waits on the rate, answers are good: it doubles.
    for i in 1..=8 {
        let t = f64::from(i) * 0.26;
        c.rate_waited(t);
        c.answer(
            t,
            Answer::Good {
                latency: 0.001,
                in_flight: 1,
            },
        );
    }
    let now = c.learned().requests_per_second;
    assert!(now > 2.0 * START_RATE, "{now}");
    assert_eq!(c.remembered().requests_per_second, now / 2.0);
    // After a cut the present level is what counts.
    c.answer(3.0, Answer::RateLimited { in_flight: 1 });
    assert_eq!(c.remembered(), c.learned());
}

#[test]
fn a_remembered_value_is_where_the_next_run_starts() {
    let mut c = Control::new(&cfg(Setting::Auto, Setting::Auto), 0.0);
    c.restore(Learned {
        requests_per_second: 19.5,
        concurrency: 5,
    });
    assert_eq!(c.learned().requests_per_second, 19.5);
    assert_eq!(c.learned().concurrency, 5);
    let (first, _, _) = model(c, 20.0, usize::MAX, 0.002, 8, 61.0);
    check(
        "first 60 s from a remembered rate",
        first,
        20.0 * 60.0 + 20.0,
    );
}

#[test]
fn while_live_sync_wants_turns_a_job_gets_its_share_of_them() {
    let mut l = Lanes::sharing(0.75);
    // Alone, a job takes every turn.
    for i in 0..100 {
        let t = f64::from(i) * 0.01;
        assert!(l.job_may_go(t));
        l.took(Lane::Job, t);
    }
    // Live sync wants every turn it can get: of the turns that follow,
    // the job gets a quarter.
    let (mut live, mut job) = (0, 0);
    for i in 100..2100 {
        let t = f64::from(i) * 0.01;
        if i % 2 == 0 && l.job_may_go(t) {
            l.took(Lane::Job, t);
            job += 1;
        } else {
            l.took(Lane::Live, t);
            live += 1;
        }
    }
    let share = f64::from(job) / f64::from(job + live);
    assert!((0.2..=0.3).contains(&share), "job share {share}");
}

#[test]
fn settings_read_a_number_or_auto_and_name_anything_else() {
    #[derive(Deserialize)]
    struct W {
        r: Setting<NonZeroU32>,
    }
    let r = |s: &str| toml::from_str::<W>(s).map(|w| w.r);
    assert_eq!(r("r = \"auto\"").unwrap(), Setting::Auto);
    assert_eq!(
        r("r = 7").unwrap(),
        Setting::Fixed(NonZeroU32::new(7).unwrap())
    );
    let e = r("r = 0").unwrap_err().to_string();
    assert!(e.contains("nonzero"), "{e}");
    let e = r("r = \"fast\"").unwrap_err().to_string();
    assert!(e.contains("\"fast\"") && e.contains("auto"), "{e}");
}
