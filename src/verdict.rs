//! Verdicts: does a claim hold in a scenario, and how do we know?
//!
//! Both sides are evaluated exactly where the exact engine can, and every
//! moment is also estimated by sampling. The decision then goes one of two
//! ways:
//!
//! * **both sides exact**: the claim holds when the sides agree within the
//!   sum of their error bounds plus 1e-9 relative; no statistics involved.
//! * **otherwise**: a test on the paired difference of the sides over
//!   independent batches (batch means), using exact values for the moments
//!   that have them and sampled ones for the rest. Because both sides are
//!   estimated from the *same* draws, their common noise cancels in the
//!   difference. The test's level is set so that the whole run's chance of
//!   one false "fails" is at most 1e-6 (Bonferroni over every test and every
//!   look of the sequential design, see [`Budget`]). "Holds" needs more
//!   than "not rejected": the confidence interval must also fit inside
//!   ±resolution, otherwise the sample grows, to the plug-in size and then
//!   to the worst case of the power calculation ([`LOOKS`], `work`), and
//!   past that the verdict is "inconclusive".
//!
//! The self-check compares each exact moment with its sampled estimate. A
//! disagreement beyond the same critical value means one engine is wrong:
//! it is reported as a defect of the tool and fails the audit. A moment
//! whose estimator has infinite variance (heavy tails) is not self-checked,
//! because its standard error means nothing; the report says so.
//!
//! A claim that the exact engine decides samples only for its self-check,
//! and the claims of one scenario share many moments: the audit draws one
//! sample of their moments per scenario ([`Pool`]) and checks each claim
//! against its columns of it ([`Trial::pooled`]), through the same code
//! ([`Estimates`]) that reads a claim's own sampler. A claim that sampling
//! decides keeps a stream of its own, because its paired test needs both
//! sides on the same draws and its looks grow the sample.

use crate::exact::exists::{self, Integrable};
use crate::exact::{self, Exact, NoExact, Outcome};
use crate::lang::arith::BinOp;
use crate::lang::ast::Relation;
use crate::model::Scenario;
use crate::model::rv::{Moment, Rv, Side};
use crate::sample::{SampleError, Sampler, StreamKey};
use crate::work;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Number of independent batches for batch means. Enough for the t
/// quantile at tiny levels to be close to the normal one, few enough that
/// each batch has thousands of draws.
pub const BATCHES: usize = 128;

/// Draws per batch in the first look (the pilot, and the self-check).
const FIRST_DRAWS: u64 = 1024;

/// Fewest draws per batch a look may take: below it the batch means are
/// not near enough normal for the t test.
const MIN_PILOT: u64 = 16;

/// The whole run's false-failure rate.
pub const FAMILY_RATE: f64 = 1e-6;

/// Looks a sampled test takes at most: the pilot, the plug-in size (what
/// decides the test if the pilot's difference were the truth), and the
/// worst-case size of the power calculation (see `work`). All three are
/// counted in the run's budget, whichever are taken.
pub const LOOKS: u32 = 3;

/// How far a trial's sampling goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The self-check and the first look of a sampled test, within one
    /// share of the budget.
    Pilot,
    /// After the power calculation: the pilot's draws again (the same bits),
    /// then, look by look until one decides, the plug-in size the pilot's
    /// look suggests ([`work::draws_for_plug_in`]) and this many draws per
    /// batch, the worst case the run's budget was checked against.
    Powered(u64),
}

/// Draws per batch of the first look: [`FIRST_DRAWS`], or fewer where one
/// share of the budget or `--max-samples` does not allow it.
fn pilot_draws(cost: u64, share: f64, max_samples: u64) -> u64 {
    let affordable = (share / (cost as f64 * BATCHES as f64)).floor();
    let affordable = if affordable >= FIRST_DRAWS as f64 {
        FIRST_DRAWS
    } else {
        affordable as u64
    };
    affordable.min(max_samples / BATCHES as u64)
}

/// How far from its decision boundary a test's truth is assumed to be, for
/// the power calculation. `=`, `<=` and `>=` are designed at no difference
/// (the true claim closest to failing), against the resolution. `~=` is
/// designed at half its band: a claim whose true deviation is within half
/// the band is decided "holds", and one beyond one and a half bands
/// "fails", except with the per-test level; between, the test may end
/// "inconclusive" (no finite sample can promise more at the band's edge).
pub fn power_margin(relation: Relation, allowed: f64) -> f64 {
    match relation {
        Relation::Approx => allowed / 2.0,
        _ => allowed,
    }
}

/// The critical half-width below which a look that saw difference `d`
/// decides under `relation` ([`interval_verdict`]): "fails" below the
/// distance from `d` to what the relation allows, "holds" within the room
/// `d` leaves inside `allowed`; the larger of the two. The plug-in look's
/// gap (see `work`).
pub fn decisive_width(relation: Relation, d: f64, allowed: f64) -> f64 {
    match relation {
        Relation::Eq => d.abs().max(allowed - d.abs()),
        Relation::Le => d.max(allowed - d),
        Relation::Ge => (-d).max(allowed + d),
        Relation::Approx => (allowed - d.abs()).abs(),
    }
}

/// Which looks a sampled test took, given in draws per batch: "sampled in
/// looks of 131072 (the pilot), 393216 (plug-in) and 4194304 (worst case)
/// draws" (see `work`); `None` for the pilot alone.
fn looks_note(looked: &[u64], worst: u64) -> Option<String> {
    let named: Vec<(u64, &str)> = looked
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let what = match i {
                0 => "the pilot",
                _ if d == worst => "worst case",
                _ => "plug-in",
            };
            (d * BATCHES as u64, what)
        })
        .collect();
    work::looks_text(&named).map(|looks| format!("sampled in looks of {looks} draws"))
}

/// A draw count as a person reads it.
fn fmt_draws(d: f64) -> String {
    if d >= 1e6 {
        format!("{d:.2e}")
    } else {
        format!("{d:.0}")
    }
}

/// Halves the largest `sum(n, T)` count in a moment; false when every
/// count is already 1.
fn halve_largest_sum(m: &mut Moment) -> bool {
    fn largest(x: &Rv) -> u64 {
        let inner = x.children().map(largest).max().unwrap_or(0);
        match x {
            Rv::Sum(n, _) => (*n).max(inner),
            Rv::IndexedSum(s) => s.plate.count.max(inner),
            _ => inner,
        }
    }
    fn halve(x: &mut Rv, target: u64) -> bool {
        // Every child, without stopping at the first: the same sum written
        // twice (or in several arguments) is one variable, and must stay
        // one.
        let mut done = false;
        for c in x.children_mut() {
            done |= halve(c, target);
        }
        match x {
            Rv::Sum(n, _) if *n == target => {
                *n = (*n / 2).max(1);
                true
            }
            // Sums over one index in a moment share a count, so all of
            // them halve together and keep sharing their copies.
            Rv::IndexedSum(s) if s.plate.count == target => {
                s.plate.count = (s.plate.count / 2).max(1);
                true
            }
            _ => done,
        }
    }
    let top = match m {
        Moment::E(x) | Moment::Var(x) => largest(x),
        Moment::Cov(x, y) => largest(x).max(largest(y)),
    };
    if top <= 1 {
        return false;
    }
    match m {
        Moment::E(x) | Moment::Var(x) => halve(x, top),
        Moment::Cov(x, y) => {
            let a = halve(x, top);
            halve(y, top) || a
        }
    }
}

/// One look of a sampled test: the verdict, the difference of the sides,
/// its standard error and what the relation allows.
/// What one evaluation knows before it samples, read by each of its steps.
struct Known<'e> {
    exact: &'e [Outcome],
    /// The sides from the exact moments, where they have values.
    lhs: Result<Exact, NoExact>,
    rhs: Result<Exact, NoExact>,
    /// Some moment has no exact value: the sampled test decides.
    sampling_decides: bool,
    /// The moments to sample, and their magnitudes among them.
    plan: Vec<Moment>,
    magnitudes: Vec<Magnitude>,
    /// Whether each moment's sampled estimate has a finite variance.
    valid: Vec<Result<(), String>>,
    settings: &'e Settings,
    budget: &'e Budget,
}

#[derive(Clone, Copy, Debug)]
struct Look {
    verdict: Verdict,
    d: f64,
    se: f64,
    allowed: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    Holds,
    Fails,
    Inconclusive,
    Undefined,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Fails => "fails",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Undefined => "undefined",
        }
    }
}

/// The test settings of a run.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub seed: u64,
    /// Relative deviation a sampled "holds" must be able to exclude.
    pub resolution: f64,
    /// Most draws one sampled test may take, over all batches. 2^26 by
    /// default: deciding a true claim "holds" at 0.5% except with the
    /// per-test level takes about 1.5e7 draws of a unit-variance claim
    /// (docs/CALIBRATION.md), so 2^24 was too few.
    pub max_samples: u64,
    /// CPU-seconds of one core the run may spend (see `work`).
    pub budget: f64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            seed: 0,
            resolution: 0.005,
            max_samples: 1 << 26,
            budget: work::DEFAULT_BUDGET,
        }
    }
}

/// The per-test level: the family rate shared over every test and look.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Two-sided critical value of the t statistic with BATCHES - 1 degrees
    /// of freedom.
    pub critical: f64,
    pub tests: u64,
}

impl Budget {
    pub fn new(tests: u64) -> Budget {
        let alpha = FAMILY_RATE / tests.max(1) as f64;
        let t = StudentsT::new(0.0, 1.0, (BATCHES - 1) as f64).expect("valid t law");
        // inverse_cdf near 1 loses digits; the lower tail is exact.
        let critical = -t.inverse_cdf(alpha / 2.0);
        Budget { critical, tests }
    }

    /// How many tests one claim in one scenario spends: one per self-checked
    /// moment, and one per look when sampling decides.
    pub fn tests_for(moments: usize, sampled_decision: bool) -> u64 {
        moments as u64 + if sampled_decision { LOOKS as u64 } else { 0 }
    }
}

/// Parses a band of `~=`: `"2%"` as (0.02, relative) and `"0.01"` as
/// (0.01, absolute).
pub fn parse_within(s: &str) -> Result<(f64, bool), String> {
    let s = s.trim();
    let (num, rel) = match s.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (s, false),
    };
    match num.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(if rel { (x / 100.0, true) } else { (x, false) }),
        _ => Err(format!("`{s}` is not a band")),
    }
}

/// A side's value as reported.
#[derive(Clone, Debug, PartialEq)]
pub struct SideValue {
    pub value: f64,
    /// The error bound (exact) or the standard error (sampled).
    pub err: f64,
    pub method: SideMethod,
    /// The sampled estimate of the same side, with its standard error.
    pub sampled: Option<(f64, f64)>,
}

impl SideValue {
    /// The value is exact, and `err` its error bound (else a standard error).
    pub fn exact(&self) -> bool {
        self.method != SideMethod::Sampled
    }
}

/// How a side's value was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SideMethod {
    /// By the exact engine, by this means.
    Exact(exact::Method),
    /// It is a number: a side that depends on no statistic.
    Number,
    Sampled,
}

impl SideMethod {
    /// The means alone, as a table's method column shows it: "quadrature",
    /// "number", "sampled".
    pub fn name(self) -> &'static str {
        match self {
            SideMethod::Exact(m) => m.name(),
            SideMethod::Number => "number",
            SideMethod::Sampled => "sampled",
        }
    }
}

impl std::fmt::Display for SideMethod {
    /// "exact (quadrature)", "exact (number)", "sampled".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SideMethod::Sampled => f.write_str(self.name()),
            _ => write!(f, "exact ({})", self.name()),
        }
    }
}

/// A moment whose exact and sampled values disagree.
#[derive(Clone, Debug, PartialEq)]
pub struct Defect {
    pub moment: String,
    pub exact: f64,
    pub sampled: f64,
    pub se: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub lhs: Option<SideValue>,
    pub rhs: Option<SideValue>,
    pub verdict: Verdict,
    /// (lhs - rhs) relative to the right side (see [`judging_scale`]).
    pub deviation: f64,
    /// Total draws used (0 when nothing was sampled). For a claim whose
    /// self-check reads its scenario's [`Pool`], the pool's draws: those its
    /// moments were checked with.
    pub draws: u64,
    /// The sample size hit its cap before the verdict was decided.
    pub capped: bool,
    pub defects: Vec<Defect>,
    /// Why a verdict is undefined or a method was unavailable.
    pub notes: Vec<String>,
    /// Evaluation produced NaN or infinity: the claim is not well posed in
    /// this scenario (bad input, reported with its location).
    pub non_finite: Option<String>,
    /// Set by a pilot that did not decide: the draws per batch the power
    /// calculation asks for.
    pub need: Option<u64>,
    /// The test cannot be afforded: why, with the draws it needs (the run
    /// is refused, exit 2).
    pub refused: Option<String>,
    /// Lane operations one draw of the claim's own sample costs; 0 for a
    /// claim whose self-check reads its scenario's [`Pool`], whose draws
    /// are the pool's and are counted once, by the pool
    /// ([`Drawn::spent_seconds`]), not once per claim.
    pub cost_per_draw: u64,
}

impl Evaluation {
    /// Nothing evaluated yet.
    fn empty() -> Evaluation {
        Evaluation {
            lhs: None,
            rhs: None,
            verdict: Verdict::Undefined,
            deviation: f64::NAN,
            draws: 0,
            capped: false,
            defects: Vec::new(),
            notes: Vec::new(),
            non_finite: None,
            need: None,
            refused: None,
            cost_per_draw: 0,
        }
    }

    /// CPU-seconds of one core its draws so far cost.
    pub fn spent_seconds(&self) -> f64 {
        work::lane_seconds(self.draws as f64 * self.cost_per_draw as f64)
    }

    /// CPU-seconds of one core the powered test its pilot asks for would
    /// cost (0 when it asks for none).
    pub fn needed_seconds(&self) -> f64 {
        self.need.map_or(0.0, |n| {
            work::lane_seconds((n * BATCHES as u64) as f64 * self.cost_per_draw as f64)
        })
    }
}

/// One claim in one scenario, ready to evaluate.
pub struct Trial<'a> {
    pub scenario: &'a Scenario,
    pub moments: &'a [Moment],
    pub lhs: &'a Side,
    pub rhs: &'a Side,
    pub relation: Relation,
    /// The band of `~=`: (value, relative?).
    pub within: Option<(f64, bool)>,
    pub key: StreamKey,
}

impl Trial<'_> {
    pub fn exact_moments(&self) -> Vec<Outcome> {
        let engine = exact::Engine::new(self.scenario);
        self.moments.iter().map(|m| engine.moment(m)).collect()
    }

    /// Whether the exact engine decides alone: every moment has an exact
    /// value (none undefined), and there is at least one, so that the trial
    /// samples only to self-check them and may share its scenario's
    /// [`Pool`].
    pub fn decided_exactly(exact: &[Outcome]) -> bool {
        !exact.is_empty() && exact.iter().all(Result::is_ok)
    }

    /// Whether sampling decides (some moment without an exact value).
    pub fn needs_sampling(exact: &[Outcome]) -> bool {
        exact
            .iter()
            .any(|o| matches!(o, Err(NoExact::NoForm(_) | NoExact::Failed(_))))
    }

    /// Lane operations the pilot (and self-check) is estimated at, before
    /// any draw: a first look within the share, or the share itself where
    /// the self-check must check something smaller.
    pub fn pilot_ops(&self, settings: &Settings) -> f64 {
        let (plan, _) = magnitude_plan(self.moments);
        let cost = Sampler::new(self.scenario, &plan, self.key, BATCHES).cost_per_draw();
        let share = work::share_ops(settings.budget);
        let full = (FIRST_DRAWS * BATCHES as u64) as f64 * cost.max(1) as f64;
        full.min(share)
    }

    /// The pilot, then, where it asks for more, the powered test: what the
    /// audit does for one trial, without the run-wide budget check between
    /// the two.
    pub fn decide(&self, exact: &[Outcome], settings: &Settings, budget: &Budget) -> Evaluation {
        let ev = self.evaluate(exact, settings, budget, Stage::Pilot);
        match ev.need {
            Some(per_batch) => self.evaluate(exact, settings, budget, Stage::Powered(per_batch)),
            None => ev,
        }
    }

    /// Evaluates the trial at one stage. A `Pilot` that cannot decide sets
    /// `need` (draws per batch from the power calculation) and leaves the
    /// verdict inconclusive; `Powered` repeats the pilot's draws bit for bit
    /// and continues to the planned size.
    ///
    /// In steps: what the exact engine left to sampling ([`Trial::known`]);
    /// a first look over its share falls back on the exact verdict
    /// ([`Trial::beyond_share`]); the looks ([`Trial::look`]); where they
    /// did not decide, the power calculation ([`Trial::power`]); then the
    /// self-check and the sides as reported ([`Trial::finish`]).
    pub fn evaluate(
        &self,
        exact: &[Outcome],
        settings: &Settings,
        budget: &Budget,
        stage: Stage,
    ) -> Evaluation {
        let mut ev = Evaluation::empty();
        let Some(cx) = self.known(exact, settings, budget, &mut ev) else {
            return ev;
        };
        let mut sampler = Sampler::new(self.scenario, &cx.plan, self.key, BATCHES);
        let cost = sampler.cost_per_draw().max(1);
        ev.cost_per_draw = cost;
        let share = work::share_ops(settings.budget);
        let pilot = pilot_draws(cost, share, settings.max_samples);
        if pilot < MIN_PILOT {
            self.beyond_share(&cx, cost, share, &mut ev);
            return ev;
        }
        let Ok(undecided) = self.look(&cx, &mut sampler, pilot, stage, &mut ev) else {
            return ev;
        };
        if let Some(first) = undecided {
            if stage == Stage::Pilot {
                self.power(&cx, &sampler, first, pilot, &mut ev);
                return ev;
            }
            ev.capped = true;
        }
        self.finish(&cx, &sampler, &mut ev);
        ev
    }

    /// The evaluation of a trial the exact engine decides
    /// ([`Trial::decided_exactly`]), self-checked against its columns of its
    /// scenario's pool: `columns[i]` is the pool's column of `moments[i]`.
    /// `None` when the trial is not one the exact engine decides, or when
    /// the pool's draws met a non-finite value in a moment that is not this
    /// trial's: its own sample then decides, as without a pool.
    pub fn pooled(
        &self,
        exact: &[Outcome],
        settings: &Settings,
        budget: &Budget,
        drawn: &Drawn,
        columns: &[usize],
    ) -> Option<Evaluation> {
        if !Trial::decided_exactly(exact) {
            return None;
        }
        let mut ev = Evaluation::empty();
        let sample = match &drawn.sample {
            Ok(sample) => sample.columns(columns),
            Err(SampleError::NonFinite { moment, value }) => {
                let mine = columns.iter().position(|c| c == moment)?;
                ev.non_finite = Some(format!(
                    "{} evaluates to {value} for some draws",
                    describe_moment(&self.moments[mine], self.scenario)
                ));
                ev.verdict = Verdict::Inconclusive;
                return Some(ev);
            }
        };
        let Some(cx) = self.known(exact, settings, budget, &mut ev) else {
            return Some(ev);
        };
        ev.draws = sample.draws();
        self.finish_with(&cx, &sample, &mut ev);
        Some(ev)
    }

    /// What the exact engine left to sampling. An undefined moment ends the
    /// evaluation (verdict undefined, its reason in the notes), and so does
    /// a moment that neither engine can put an error bar on (inconclusive);
    /// otherwise the notes say which moments have no exact value.
    fn known<'e>(
        &self,
        exact: &'e [Outcome],
        settings: &'e Settings,
        budget: &'e Budget,
        ev: &mut Evaluation,
    ) -> Option<Known<'e>> {
        if let Some(reason) = exact.iter().find_map(|o| match o {
            Err(NoExact::Undefined(r)) => Some(r.clone()),
            _ => None,
        }) {
            ev.notes.push(reason);
            return None;
        }
        for o in exact {
            if let Err(NoExact::NoForm(r) | NoExact::Failed(r)) = o {
                ev.notes.push(format!("no exact value: {r}"));
            }
        }
        // Sampling: the moments, plus their magnitudes (for the scale of
        // relative deviations of quantities that are zero).
        let (plan, magnitudes) = magnitude_plan(self.moments);
        let valid: Vec<Result<(), String>> = self
            .moments
            .iter()
            .map(|m| estimator_has_variance(self.scenario, m))
            .collect();
        // Sampling cannot decide what it cannot put an error bar on.
        if let Some((i, Err(why))) = valid
            .iter()
            .enumerate()
            .find(|(i, v)| v.is_err() && exact[*i].is_err())
        {
            ev.notes.push(format!(
                "{} has no exact value, and its sampled estimate no reliable standard error: {why}",
                describe_moment(&self.moments[i], self.scenario)
            ));
            ev.verdict = Verdict::Inconclusive;
            return None;
        }
        Some(Known {
            exact,
            lhs: exact::side(self.lhs, exact),
            rhs: exact::side(self.rhs, exact),
            sampling_decides: Trial::needs_sampling(exact),
            plan,
            magnitudes,
            valid,
            settings,
            budget,
        })
    }

    /// Not even a first look fits in one test's share: refused where
    /// sampling must decide; otherwise the exact verdict stands, and the
    /// self-check checks what fits ([`Trial::smaller_self_check`]).
    fn beyond_share(&self, cx: &Known, cost: u64, share: f64, ev: &mut Evaluation) {
        let full = (FIRST_DRAWS * BATCHES as u64) as f64 * cost as f64;
        if cx.sampling_decides {
            ev.verdict = Verdict::Inconclusive;
            ev.refused = Some(format!(
                "one draw costs {cost} operations, so even a first look of {} draws would take {} \
                 of work on one core (the share of one test is {})",
                MIN_PILOT * BATCHES as u64,
                work::human_seconds(work::lane_seconds(
                    (MIN_PILOT * BATCHES as u64) as f64 * cost as f64
                )),
                work::human_seconds(work::lane_seconds(share)),
            ));
            return;
        }
        let (Ok(l), Ok(r)) = (&cx.lhs, &cx.rhs) else {
            // Every moment is exact here, so the sides are; kept total.
            ev.verdict = Verdict::Inconclusive;
            ev.notes.push("a side has no exact value".to_string());
            return;
        };
        ev.lhs = Some(exact_value(l, None));
        ev.rhs = Some(exact_value(r, None));
        let (verdict, deviation) = self.exact_verdict(l, r);
        ev.verdict = verdict;
        ev.deviation = deviation;
        self.smaller_self_check(cx.exact, &cx.valid, full, share, cx.budget, ev);
    }

    /// Draws the pilot and, at `Powered`, on to the plug-in size the
    /// pilot's look suggests and then to the worst case; where sampling
    /// decides, each look tests the sides, and a decided look ends the
    /// looking. `Err` when a draw is not finite (the trial is not well
    /// posed, `ev.non_finite` says where); otherwise the first look when
    /// sampling decides and no look did.
    fn look(
        &self,
        cx: &Known,
        sampler: &mut Sampler,
        pilot: u64,
        stage: Stage,
        ev: &mut Evaluation,
    ) -> Result<Option<Look>, ()> {
        let worst = match stage {
            Stage::Pilot => pilot,
            Stage::Powered(per_batch) => per_batch.max(pilot),
        };
        let mut first: Option<Look> = None;
        let mut looked = Vec::new();
        let mut next = Some(pilot);
        while let Some(draws) = next.filter(|&d| d > sampler.draws_per_batch()) {
            let add = draws - sampler.draws_per_batch();
            if let Err(SampleError::NonFinite { moment, value }) = sampler.extend(add) {
                ev.non_finite = Some(format!(
                    "{} evaluates to {value} for some draws",
                    describe_moment(&cx.plan[moment], self.scenario)
                ));
                ev.verdict = Verdict::Inconclusive;
                return Err(());
            }
            ev.draws = sampler.draws_per_batch() * BATCHES as u64;
            if !cx.sampling_decides {
                break;
            }
            let look = self.sampled_verdict(cx, sampler, ev);
            ev.verdict = look.verdict;
            looked.push(draws);
            if look.verdict != Verdict::Inconclusive {
                break;
            }
            // The pilot's look, repeated bit for bit at `Powered`, sets the
            // plug-in size; the worst case follows it.
            next = Some(match first {
                None => self.plug_in(cx, look, pilot, worst),
                Some(_) => worst,
            });
            first.get_or_insert(look);
        }
        ev.notes.extend(looks_note(&looked, worst));
        let undecided = cx.sampling_decides && ev.verdict == Verdict::Inconclusive;
        Ok(first.filter(|_| undecided))
    }

    /// Draws per batch that decide the test if the pilot's difference were
    /// the truth ([`work::draws_for_plug_in`]), at most `worst`.
    fn plug_in(&self, cx: &Known, first: Look, pilot: u64, worst: u64) -> u64 {
        let gap = decisive_width(self.relation, first.d, first.allowed);
        work::draws_for_plug_in(
            pilot as f64,
            first.se,
            gap,
            cx.budget.critical,
            worst as f64,
        ) as u64
    }

    /// The power calculation after a pilot that did not decide: how many
    /// draws decide this test, except with the per-test level, if the
    /// truth is what the pilot suggests (for `=`, `<=` and `>=`: no
    /// difference). More than `--max-samples` is refused.
    fn power(&self, cx: &Known, sampler: &Sampler, first: Look, pilot: u64, ev: &mut Evaluation) {
        let margin = power_margin(self.relation, first.allowed);
        let per_batch = work::draws_for_power(pilot as f64, first.se, margin, cx.budget.critical)
            .max(2.0 * pilot as f64);
        let draws = per_batch * BATCHES as f64;
        if draws > cx.settings.max_samples as f64 {
            ev.refused = Some(format!(
                "deciding it needs about {} draws (a power calculation on a pilot of {} \
                 draws: difference of the sides {:.3e} ± {:.1e}, allowed {:.3e}), more \
                 than --max-samples {}",
                fmt_draws(draws),
                pilot * BATCHES as u64,
                first.d,
                first.se,
                first.allowed,
                cx.settings.max_samples
            ));
            // The sides as far as the pilot saw them: a refused run stops
            // the audit (exit 2), but a caller that only wants one look
            // (gain's depth path) reads them.
            self.finish(cx, sampler, ev);
        } else {
            ev.need = Some(per_batch as u64);
        }
    }

    /// The self-check of every exact moment against the trial's own
    /// sample, and the sides as reported.
    fn finish(&self, cx: &Known, sampler: &Sampler, ev: &mut Evaluation) {
        self.finish_with(cx, &Estimates::of(sampler), ev);
    }

    /// The self-check of every exact moment against `sample` (the trial's
    /// own, or its columns of its scenario's [`Pool`]: one code path for
    /// both), and the sides as reported.
    fn finish_with(&self, cx: &Known, sample: &Estimates, ev: &mut Evaluation) {
        let (batches, pooled) = (&sample.batches, &sample.pooled);
        self_check(
            self.scenario,
            self.moments,
            cx.exact,
            &cx.valid,
            sample,
            cx.budget,
            ev,
        );
        let sampled_side = |side: &Side| {
            let per_batch: Vec<f64> = batches
                .iter()
                .map(|b| side.eval(&b[..self.moments.len()]))
                .collect();
            (
                side.eval(&pooled[..self.moments.len()]),
                standard_error(per_batch.into_iter()),
            )
        };
        let lhs_sampled = sampled_side(self.lhs);
        let rhs_sampled = sampled_side(self.rhs);

        match (&cx.lhs, &cx.rhs) {
            (Ok(l), Ok(r)) => {
                ev.lhs = Some(exact_value(l, Some(lhs_sampled)));
                ev.rhs = Some(exact_value(r, Some(rhs_sampled)));
                let (verdict, deviation) = self.exact_verdict(l, r);
                ev.verdict = verdict;
                ev.deviation = deviation;
            }
            _ => {
                // The sampled verdict has been set; report the sides with
                // exact moments substituted where they exist.
                let mixed = mixed_batches(batches, pooled, cx.exact, self.moments.len());
                for (side, slot, exact_side) in [
                    (self.lhs, &mut ev.lhs, &cx.lhs),
                    (self.rhs, &mut ev.rhs, &cx.rhs),
                ] {
                    *slot = Some(match exact_side {
                        Ok(e) => exact_value(e, Some(sampled_side(side))),
                        Err(_) => {
                            let per: Vec<f64> = mixed.0.iter().map(|b| side.eval(b)).collect();
                            SideValue {
                                value: side.eval(&mixed.1),
                                err: standard_error(per.into_iter()),
                                method: SideMethod::Sampled,
                                sampled: Some(sampled_side(side)),
                            }
                        }
                    });
                }
            }
        }
    }

    /// A self-check that would cost more than its share checks what fits:
    /// every `sum(n, T)` in the moments shrunk (largest count first,
    /// halving) until a full first look of the smaller moments fits the
    /// share, each smaller moment evaluated by the same exact rules and
    /// sampled. What was and was not checked goes into the notes.
    fn smaller_self_check(
        &self,
        exact: &[Outcome],
        valid: &[Result<(), String>],
        full_ops: f64,
        share: f64,
        budget: &Budget,
        ev: &mut Evaluation,
    ) {
        let not_sampled = format!(
            "not sampled at full size: its self-check would take {} of work on one core, over its \
             share of {}",
            work::human_seconds(work::lane_seconds(full_ops)),
            work::human_seconds(work::lane_seconds(share))
        );
        let per_draw = share / (FIRST_DRAWS * BATCHES as u64) as f64;
        let mut smaller: Vec<Moment> = self.moments.to_vec();
        loop {
            let (plan, _) = magnitude_plan(&smaller);
            let cost = Sampler::new(self.scenario, &plan, self.key, BATCHES).cost_per_draw();
            if cost as f64 <= per_draw {
                ev.cost_per_draw = cost;
                break;
            }
            if !smaller.iter_mut().any(halve_largest_sum) {
                ev.notes.push(format!(
                    "{not_sampled}; no smaller version of its moments fits either, so nothing was \
                     self-checked"
                ));
                return;
            }
        }
        let engine = exact::Engine::new(self.scenario);
        let small_exact: Vec<Outcome> = smaller.iter().map(|m| engine.moment(m)).collect();
        let (plan, _) = magnitude_plan(&smaller);
        let mut sampler = Sampler::new(self.scenario, &plan, self.key, BATCHES);
        if sampler.extend(FIRST_DRAWS).is_err() {
            ev.notes.push(format!(
                "{not_sampled}; its smaller version met a non-finite value, so nothing was self-checked"
            ));
            return;
        }
        let sample = Estimates::of(&sampler);
        ev.draws = sample.draws();
        let before = ev.defects.len();
        self_check(
            self.scenario,
            &smaller,
            &small_exact,
            valid,
            &sample,
            budget,
            ev,
        );
        for (i, (m, small)) in self.moments.iter().zip(&smaller).enumerate() {
            let (Ok(_), Ok(e)) = (&exact[i], &small_exact[i]) else {
                ev.notes.push(format!(
                    "{}: {not_sampled}; the smaller {} has no exact value, so it was not self-checked",
                    describe_moment(m, self.scenario),
                    describe_moment(small, self.scenario),
                ));
                continue;
            };
            if valid[i].is_err() {
                continue;
            }
            let what = if m == small {
                "sampled as it is".to_string()
            } else {
                format!(
                    "{not_sampled}; self-checked through the same rules at a smaller size, {} = {} \
                     exact, {:.6} ± {:.1e} sampled from {} draws",
                    describe_moment(small, self.scenario),
                    e.val.value,
                    sample.pooled[i],
                    standard_error(sample.batches.iter().map(|b| b[i])),
                    ev.draws
                )
            };
            ev.notes
                .push(format!("{}: {what}", describe_moment(m, self.scenario)));
        }
        if ev.defects.len() > before {
            ev.notes.push(
                "the defects above are of the smaller moments that stand in for the claim's"
                    .to_string(),
            );
        }
    }

    fn exact_verdict(&self, l: &Exact, r: &Exact) -> (Verdict, f64) {
        let (lv, rv) = (l.val.value, r.val.value);
        let d = lv - rv;
        let scale = lv.abs().max(rv.abs());
        let tol = l.val.err + r.val.err + 1e-9 * scale;
        // A difference inside the error bounds is no deviation at all (two
        // roundings of zero are not "100% apart").
        let base = exact_reference(lv, rv, r.val.err);
        let deviation = if d.abs() <= l.val.err + r.val.err || base == 0.0 {
            0.0
        } else {
            d / base
        };
        let verdict = match self.relation {
            Relation::Eq => verdict_if(d.abs() <= tol),
            Relation::Le => verdict_if(d <= tol),
            Relation::Ge => verdict_if(-d <= tol),
            Relation::Approx => {
                let band = self.band(rv);
                if d.abs() + tol <= band {
                    Verdict::Holds
                } else if d.abs() - tol > band {
                    Verdict::Fails
                } else {
                    Verdict::Inconclusive
                }
            }
        };
        (verdict, deviation)
    }

    fn band(&self, rhs: f64) -> f64 {
        match self.within {
            Some((p, true)) => p * rhs.abs(),
            Some((a, false)) => a,
            None => 0.0,
        }
    }

    fn sampled_verdict(&self, cx: &Known, sampler: &Sampler, ev: &mut Evaluation) -> Look {
        let (exact, magnitudes, settings, budget) =
            (cx.exact, &cx.magnitudes, cx.settings, cx.budget);
        let n = self.moments.len();
        let batches = sampler.batch_estimates();
        let pooled = sampler.pooled();
        let (mixed, mixed_pooled) = mixed_batches(&batches, &pooled, exact, n);
        let diffs: Vec<f64> = mixed
            .iter()
            .map(|b| self.lhs.eval(b) - self.rhs.eval(b))
            .collect();
        let (l, r) = (self.lhs.eval(&mixed_pooled), self.rhs.eval(&mixed_pooled));
        let d = l - r;
        let se = standard_error(diffs.into_iter());
        let h = budget.critical * se;
        // Deviations are relative to the sides themselves; a claim about a
        // quantity that is (nearly) zero is judged against the natural size
        // of what it is made of instead (root mean square for a mean).
        let mags = magnitude_values(magnitudes, &pooled);
        // A side in absolute arithmetic over moment magnitudes: the size its
        // terms have before they cancel.
        let size = |side: &Side| side.magnitude(&|i| mags[*i]);
        let natural = size(self.lhs).max(size(self.rhs));
        let scale = judging_scale(r.abs(), natural, settings.resolution);
        ev.deviation = if scale > 0.0 { d / scale } else { 0.0 };
        let allowed = match self.relation {
            Relation::Approx => self.band(r),
            _ => settings.resolution * scale,
        };
        Look {
            verdict: interval_verdict(self.relation, d, h, allowed).0,
            d,
            se,
            allowed,
        }
    }
}

/// A sample's estimates as the self-check and the reported sides read
/// them: per batch (`[batch][column]`) and pooled over all batches, one
/// column per moment, with the draws per batch behind them. Taken from a
/// trial's own [`Sampler`] or from a trial's columns of a [`Pool`], so that
/// both are read by one code path.
#[derive(Clone, Debug)]
pub struct Estimates {
    batches: Vec<Vec<f64>>,
    pooled: Vec<f64>,
    draws_per_batch: u64,
}

impl Estimates {
    fn of(sampler: &Sampler) -> Estimates {
        Estimates {
            batches: sampler.batch_estimates(),
            pooled: sampler.pooled(),
            draws_per_batch: sampler.draws_per_batch(),
        }
    }

    /// The estimates of `columns`, in that order.
    fn columns(&self, columns: &[usize]) -> Estimates {
        let pick = |row: &[f64]| columns.iter().map(|&c| row[c]).collect();
        Estimates {
            batches: self.batches.iter().map(|b| pick(b)).collect(),
            pooled: pick(&self.pooled),
            draws_per_batch: self.draws_per_batch,
        }
    }

    /// Draws over all batches.
    pub fn draws(&self) -> u64 {
        self.draws_per_batch * self.batches.len() as u64
    }
}

/// The self-check's sample of one scenario, shared by the trials there
/// that the exact engine decides (common random numbers across claims).
///
/// Such a trial samples only to check its exact moments against their
/// estimates, and the claims of a file share their scenarios and many of
/// their moments (E[y^2], Var[w], ...): one sample of the union of their
/// moments, each moment once, checks each of them with as many draws as a
/// sample of its own would, for about half the work over the shipped
/// audit. Its stream is keyed by the file and the scenario, not by a
/// claim, so a moment's sample belongs to its scenario: two claims that
/// share a moment report the same sampled value for it, and a claim
/// reports the same numbers whichever claims are evaluated beside it, as
/// long as the pool is built from the whole file (`audit::plan::pool`).
/// Only the moments are drawn, not the magnitudes a sampled verdict reads
/// ([`magnitude_plan`]): a self-check never reads them.
#[derive(Clone, Debug)]
pub struct Pool {
    moments: Vec<Moment>,
    key: StreamKey,
}

impl Pool {
    pub fn new(key: StreamKey) -> Pool {
        Pool {
            moments: Vec::new(),
            key,
        }
    }

    /// The pool's columns of `moments` (in their order), adding the
    /// moments it does not have yet.
    pub fn join(&mut self, moments: &[Moment]) -> Vec<usize> {
        moments
            .iter()
            .map(|m| column_of(&mut self.moments, m))
            .collect()
    }

    /// Lane operations one draw of every moment of the pool costs.
    pub fn cost_per_draw(&self, scenario: &Scenario) -> u64 {
        Sampler::new(scenario, &self.moments, self.key, BATCHES)
            .cost_per_draw()
            .max(1)
    }

    /// Draws `per_batch` draws in each of [`BATCHES`] batches.
    pub fn draw(&self, scenario: &Scenario, per_batch: u64) -> Drawn {
        let mut sampler = Sampler::new(scenario, &self.moments, self.key, BATCHES);
        let cost_per_draw = sampler.cost_per_draw().max(1);
        let sample = sampler.extend(per_batch).map(|()| Estimates::of(&sampler));
        Drawn {
            sample,
            ops: (per_batch * BATCHES as u64) as f64 * cost_per_draw as f64,
        }
    }
}

/// A pool's sample, or the non-finite value that stopped it (its
/// `moment` the pool's column), and the work it took.
#[derive(Clone, Debug)]
pub struct Drawn {
    pub sample: Result<Estimates, SampleError>,
    /// Lane operations spent, whether or not the draws were finite.
    ops: f64,
}

impl Drawn {
    /// CPU-seconds of one core the pool's draws cost: counted once for
    /// all the trials that read it.
    pub fn spent_seconds(&self) -> f64 {
        work::lane_seconds(self.ops)
    }
}

/// Draws per batch of a pool whose draws cost `cost` lane operations each,
/// where its first look fits whole in one test's share: the first look of
/// a trial of its own ([`FIRST_DRAWS`], or fewer under `--max-samples`),
/// so that a pooled moment is checked with as many draws as an unpooled
/// one. `None` where it does not fit: the trials that make it too
/// expensive keep samples of their own ([`Trial::evaluate`]).
pub fn pooled_draws(cost: u64, settings: &Settings) -> Option<u64> {
    let full = FIRST_DRAWS.min(settings.max_samples / BATCHES as u64);
    let share = work::share_ops(settings.budget);
    (full >= MIN_PILOT && pilot_draws(cost.max(1), share, settings.max_samples) == full)
        .then_some(full)
}

/// Compares each exact moment with its sampled estimate; a disagreement
/// beyond the test's critical value is a defect of the tool. Moments whose
/// estimator has no known finite variance are noted, not checked.
fn self_check(
    scenario: &Scenario,
    moments: &[Moment],
    exact: &[Outcome],
    valid: &[Result<(), String>],
    sample: &Estimates,
    budget: &Budget,
    ev: &mut Evaluation,
) {
    let (batches, pooled) = (&sample.batches, &sample.pooled);
    for (i, o) in exact.iter().enumerate() {
        let Ok(e) = o else { continue };
        if let Err(why) = &valid[i] {
            ev.notes.push(format!(
                "{}: not self-checked, its estimator's variance is not known to be finite ({why})",
                describe_moment(&moments[i], scenario)
            ));
            continue;
        }
        // Batch means can miss a rare event in every batch at once and
        // then agree on a standard error far below the truth; where the
        // estimator's own variance is known exactly, it is a floor.
        // The floor only ever widens the interval, so it is computed
        // only when the batch-means interval alone would cry defect.
        let diff = (pooled[i] - e.val.value).abs();
        let disagree =
            |se: f64| diff > budget.critical * se + e.val.err && diff > 1e-12 * e.val.value.abs();
        let mut se = standard_error(batches.iter().map(|b| b[i]));
        if disagree(se) {
            let total = sample.draws() as f64;
            if let Some(v) = estimator_variance(scenario, &moments[i], e.val.value) {
                se = se.max((v.max(0.0) / total).sqrt());
            }
        }
        if disagree(se) {
            ev.defects.push(Defect {
                moment: describe_moment(&moments[i], scenario),
                exact: e.val.value,
                sampled: pooled[i],
                se,
            });
        }
    }
}

/// The size a sampled deviation is judged against, and what "rel. dev." is
/// relative to, for every relation: the right side `|rhs|` (the value
/// claimed, of which a `~=` band is a share), or, where the right side is
/// (nearly) zero, below `resolution` times the natural size of what the
/// sides are made of (root mean square for a mean), that natural size.
/// One meaning, so that a deviation printed beside a verdict is the one
/// the verdict compared with the resolution or the band.
pub fn judging_scale(rhs: f64, natural: f64, resolution: f64) -> f64 {
    if rhs >= resolution * natural {
        rhs
    } else {
        natural
    }
}

/// What an exact deviation is relative to: the right side, as for a
/// sampled one ([`judging_scale`]); where the right side is zero within
/// its error bound, the left side, the only size there is.
fn exact_reference(lhs: f64, rhs: f64, rhs_err: f64) -> f64 {
    if rhs.abs() > rhs_err {
        rhs.abs()
    } else {
        lhs.abs()
    }
}

/// Judges a sampled difference of the sides, `d ± h` (`h` the critical
/// half-width), under a relation. `allowed` is the resolution for `=`, `<=`
/// and `>=`, and the band for `~=`. Fails when the interval excludes what
/// the relation allows; holds when it lies inside `allowed`; otherwise
/// inconclusive. Also returns how far the interval reaches (`excess`):
/// holding needs `excess <= allowed`.
pub fn interval_verdict(relation: Relation, d: f64, h: f64, allowed: f64) -> (Verdict, f64) {
    let (fails, excess) = match relation {
        Relation::Eq => (d.abs() > h, d.abs() + h),
        Relation::Le => (d - h > 0.0, d + h),
        Relation::Ge => (-d - h > 0.0, -d + h),
        Relation::Approx => (d.abs() - h > allowed, d.abs() + h),
    };
    let verdict = if fails {
        Verdict::Fails
    } else if excess <= allowed {
        Verdict::Holds
    } else {
        Verdict::Inconclusive
    };
    (verdict, excess)
}

fn verdict_if(holds: bool) -> Verdict {
    if holds {
        Verdict::Holds
    } else {
        Verdict::Fails
    }
}

fn exact_value(e: &Exact, sampled: Option<(f64, f64)>) -> SideValue {
    SideValue {
        value: e.val.value,
        err: e.val.err,
        method: SideMethod::Exact(e.method),
        sampled,
    }
}

/// Batch estimates with exact values substituted where the moment has one,
/// and the same for the pooled estimate.
fn mixed_batches(
    batches: &[Vec<f64>],
    pooled: &[f64],
    exact: &[Outcome],
    n: usize,
) -> (Vec<Vec<f64>>, Vec<f64>) {
    let pick = |i: usize, sampled: f64| match &exact[i] {
        Ok(e) => e.val.value,
        Err(_) => sampled,
    };
    let mixed = batches
        .iter()
        .map(|b| (0..n).map(|i| pick(i, b[i])).collect())
        .collect();
    let pooled = (0..n).map(|i| pick(i, pooled[i])).collect();
    (mixed, pooled)
}

/// The standard error of a mean over batches: sd of the batch values over
/// sqrt(B).
pub fn standard_error(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.collect();
    let b = v.len() as f64;
    if v.len() < 2 {
        return f64::INFINITY;
    }
    let mean = v.iter().sum::<f64>() / b;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (b - 1.0);
    (var / b).sqrt()
}

/// The exact variance of one draw's contribution to a moment's estimator
/// (X for a mean, (X - E X)^2 for a variance, the centred product for a
/// covariance), when the exact engine has it: the estimator's standard
/// error is its square root over sqrt(draws).
fn estimator_variance(scenario: &Scenario, m: &Moment, value: f64) -> Option<f64> {
    let engine = exact::Engine::new(scenario);
    let centred = |x: &Rv| -> Option<Rv> {
        let mean = engine.expect(x).ok()?.val.value;
        Some(Rv::Bin(
            BinOp::Sub,
            Box::new(x.clone()),
            Box::new(Rv::Const(mean)),
        ))
    };
    let square = |x: Rv| Rv::bin(BinOp::Pow, x, Rv::Const(2.0));
    let summand_second_moment = match m {
        Moment::E(x) => return engine.cov(x, x).ok().map(|v| v.val.value),
        Moment::Var(x) => engine.expect(&square(square(centred(x)?))).ok()?,
        Moment::Cov(x, y) => {
            let product = Rv::bin(BinOp::Mul, centred(x)?, centred(y)?);
            engine.expect(&square(product)).ok()?
        }
    };
    Some(summand_second_moment.val.value - value * value)
}

/// How the natural size of a moment is read off the auxiliary moments.
#[derive(Clone, Copy, Debug)]
enum Magnitude {
    /// E[X]: sqrt(Var[X] + E[X]^2), the root mean square; `(e, var)`.
    Rms(usize, usize),
    /// Var[X]: itself.
    Itself(usize),
    /// Cov[X, Y]: sqrt(Var[X] Var[Y]).
    Geometric(usize, usize),
}

/// The moments to sample: the claim's own first (same indices), then the
/// variances that give each moment its natural size.
fn magnitude_plan(moments: &[Moment]) -> (Vec<Moment>, Vec<Magnitude>) {
    let mut plan = moments.to_vec();
    let mut mags = Vec::new();
    for (i, m) in moments.iter().enumerate() {
        mags.push(match m {
            Moment::E(x) => Magnitude::Rms(i, column_of(&mut plan, &Moment::Var(x.clone()))),
            Moment::Var(_) => Magnitude::Itself(i),
            Moment::Cov(x, y) => Magnitude::Geometric(
                column_of(&mut plan, &Moment::Var(x.clone())),
                column_of(&mut plan, &Moment::Var(y.clone())),
            ),
        });
    }
    (plan, mags)
}

/// `m`'s column in a sampling plan, added at the end if the plan does not
/// have it yet: a moment is drawn once however often it is asked for.
fn column_of(plan: &mut Vec<Moment>, m: &Moment) -> usize {
    plan.iter().position(|p| p == m).unwrap_or_else(|| {
        plan.push(m.clone());
        plan.len() - 1
    })
}

fn magnitude_values(mags: &[Magnitude], pooled: &[f64]) -> Vec<f64> {
    mags.iter()
        .map(|m| match *m {
            Magnitude::Rms(e, v) => (pooled[v].max(0.0) + pooled[e] * pooled[e]).sqrt(),
            Magnitude::Itself(i) => pooled[i].abs(),
            Magnitude::Geometric(a, b) => (pooled[a].max(0.0) * pooled[b].max(0.0)).sqrt(),
        })
        .collect()
}

/// Whether the sampled estimate of a moment has a finite variance, so that
/// its standard error means something: E[X] needs E[X^2], Var and Cov need
/// fourth moments. `Err` says why not (or why it is not known).
fn estimator_has_variance(scenario: &Scenario, m: &Moment) -> Result<(), String> {
    let pieces: Vec<(&Rv, f64)> = match m {
        Moment::E(x) => vec![(x, 2.0)],
        Moment::Var(x) => vec![(x, 4.0)],
        Moment::Cov(x, y) => vec![(x, 4.0), (y, 4.0)],
    };
    for (x, p) in pieces {
        match exists::integrable(scenario, x, p) {
            Integrable::Yes => {}
            Integrable::No(r) | Integrable::Unknown(r) => return Err(r),
        }
    }
    Ok(())
}

/// A moment as the user would write it, for notes and defects.
pub fn describe_moment(m: &Moment, scenario: &Scenario) -> String {
    let names = &scenario.bases;
    match m {
        Moment::E(x) => format!("E[{}]", x.shown(names)),
        Moment::Var(x) => format!("Var[{}]", x.shown(names)),
        Moment::Cov(x, y) => format!("Cov[{}, {}]", x.shown(names), y.shown(names)),
    }
}

#[cfg(test)]
mod tests {
    // The test budget against a t quantile computed another way, the
    // standard error against its formula, and the verdicts of each relation,
    // exact and sampled, on claims whose truth is known in closed form.

    use super::*;
    use crate::lang::{FunctionDef, parse_claim, parse_model};
    use crate::model::resolve::build;
    use statrs::function::beta::beta_reg;
    use std::collections::HashMap;
    use std::f64::consts::PI;

    /// P(T < -t) for Student's t with `dof` degrees of freedom, through the
    /// regularized incomplete beta function: I_{dof/(dof+t^2)}(dof/2, 1/2)/2.
    fn t_lower_tail(t: f64, dof: f64) -> f64 {
        0.5 * beta_reg(dof / 2.0, 0.5, dof / (dof + t * t))
    }

    /// The two-sided critical value at level `alpha`, by bisection.
    fn t_critical(alpha: f64, dof: f64) -> f64 {
        let (mut lo, mut hi) = (0.0f64, 100.0f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if t_lower_tail(mid, dof) > alpha / 2.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }

    #[test]
    fn budget_critical_is_the_t_quantile() {
        let dof = (BATCHES - 1) as f64;
        let mut last = 0.0;
        for tests in [1u64, 13, 1000, 123_456] {
            let b = Budget::new(tests);
            let truth = t_critical(FAMILY_RATE / tests as f64, dof);
            assert!(
                (b.critical - truth).abs() <= 1e-8 * truth,
                "{tests} tests: {} against {truth}",
                b.critical
            );
            assert!(b.critical > last, "more tests, a stricter test");
            last = b.critical;
            assert_eq!(b.tests, tests);
        }
        // The normal quantile at 1e-6 two-sided is 4.8916; t is wider.
        let one = Budget::new(1).critical;
        assert!(one > 4.8916 && one < 5.2, "{one}");
        // Zero tests are one test, not a division by zero.
        assert_eq!(Budget::new(0).critical, one);
        assert_eq!(Budget::tests_for(3, false), 3);
        assert_eq!(Budget::tests_for(2, true), 2 + u64::from(LOOKS));
    }

    #[test]
    fn standard_error_of_batch_means() {
        // sd of 1, 2, 3, 4 is sqrt(5/3); over sqrt(4).
        let se = standard_error([1.0, 2.0, 3.0, 4.0].into_iter());
        assert!((se - (5.0f64 / 12.0).sqrt()).abs() <= 1e-15, "{se}");
        // Shifting changes nothing; scaling scales.
        let shifted = standard_error([101.0, 102.0, 103.0, 104.0].into_iter());
        assert!((shifted - se).abs() <= 1e-13, "{shifted}");
        let scaled = standard_error([-3.0, -6.0, -9.0, -12.0].into_iter());
        assert!((scaled - 3.0 * se).abs() <= 1e-14, "{scaled}");
        assert_eq!(standard_error([2.5; 10].into_iter()), 0.0);
        assert_eq!(standard_error([2.5].into_iter()), f64::INFINITY);
        assert_eq!(standard_error(std::iter::empty()), f64::INFINITY);
    }

    fn evaluate(given: &str, claim: &str, within: Option<(f64, bool)>) -> Evaluation {
        let funcs: HashMap<String, FunctionDef> = HashMap::new();
        let stmts = parse_model(given).expect("the model parses");
        let model = build("test", &stmts, &funcs).expect("the model resolves");
        let c = parse_claim(claim).expect("the claim parses");
        let mut moments = Vec::new();
        let lhs = model.side(&c.lhs, &funcs, &mut moments).expect("lhs");
        let rhs = model.side(&c.rhs, &funcs, &mut moments).expect("rhs");
        let trial = Trial {
            scenario: &model.scenario,
            moments: &moments,
            lhs: &lhs,
            rhs: &rhs,
            relation: c.relation,
            within,
            key: StreamKey::new(2015, &["verdict tests", claim]),
        };
        let exact = trial.exact_moments();
        let budget = Budget::new(Budget::tests_for(
            moments.len(),
            Trial::needs_sampling(&exact),
        ));
        let ev = trial.decide(&exact, &Settings::default(), &budget);
        assert!(ev.defects.is_empty(), "{claim}: {:?}", ev.defects);
        ev
    }

    const Y: &str = "y ~ Normal(0, 1)";

    fn unit_gaussian() -> crate::model::resolve::Model {
        build("t", &parse_model(Y).expect("parses"), &HashMap::new()).expect("resolves")
    }

    /// A claim's relation, moments and sides in `model`.
    fn resolved(
        model: &crate::model::resolve::Model,
        claim: &str,
    ) -> (Relation, Vec<Moment>, Side, Side) {
        let funcs: HashMap<String, FunctionDef> = HashMap::new();
        let c = parse_claim(claim).expect("parses");
        let mut moments = Vec::new();
        let lhs = model.side(&c.lhs, &funcs, &mut moments).expect("lhs");
        let rhs = model.side(&c.rhs, &funcs, &mut moments).expect("rhs");
        (c.relation, moments, lhs, rhs)
    }
    /// E[relu(y)] for a standard normal.
    const RELU_MEAN: f64 = 0.398_942_280_401_432_7;

    fn verdict(claim: &str, within: Option<(f64, bool)>) -> Verdict {
        evaluate(Y, claim, within).verdict
    }

    #[test]
    fn exact_identities() {
        let ev = evaluate(Y, "E[relu(y)^2] = Var[y] / 2", None);
        assert_eq!(ev.verdict, Verdict::Holds);
        let (l, r) = (ev.lhs.expect("lhs"), ev.rhs.expect("rhs"));
        assert!(l.exact() && r.exact(), "{l:?} {r:?}");
        assert_eq!(r.method, SideMethod::Exact(exact::Method::ClosedForm));
        // One part in 5000 is far outside an exact engine's bound.
        let ev = evaluate(Y, "E[relu(y)^2] = 0.5001", None);
        assert_eq!(ev.verdict, Verdict::Fails);
        let dev = (0.5 - 0.5001) / 0.5001;
        assert!((ev.deviation - dev).abs() <= 1e-12, "{}", ev.deviation);
        // 1e-9 relative is the slack of an exact comparison, not more.
        assert_eq!(
            verdict(
                &format!("E[relu(y)] = {:.17}", RELU_MEAN * (1.0 + 1e-10)),
                None
            ),
            Verdict::Holds
        );
        assert_eq!(
            verdict(
                &format!("E[relu(y)] = {:.17}", RELU_MEAN * (1.0 + 1e-8)),
                None
            ),
            Verdict::Fails
        );
    }

    /// "rel. dev." has one meaning for every relation: relative to the
    /// right side, the value claimed, as a `~=` band is. E[relu(y)^2] = 1/2
    /// for a unit Gaussian y (half its second moment).
    #[test]
    fn deviation_is_relative_to_the_right_side() {
        let ev = evaluate(Y, "E[relu(y)^2] = 0.25", None);
        assert!((ev.deviation - 1.0).abs() <= 1e-12, "{}", ev.deviation);
        let ev = evaluate(Y, "E[relu(y)^2] = 1", None);
        assert!((ev.deviation + 0.5).abs() <= 1e-12, "{}", ev.deviation);
        // The same for `~=`, whose band is a share of the right side: 100%
        // of 0.25 covers the deviation of 0.25 only up to its edge, 101% does.
        let ev = evaluate(Y, "E[relu(y)^2] ~= 0.25", Some((1.01, true)));
        assert_eq!(ev.verdict, Verdict::Holds);
        assert!((ev.deviation - 1.0).abs() <= 1e-12, "{}", ev.deviation);
        let ev = evaluate(Y, "E[relu(y)^2] ~= 0.25", Some((0.99, true)));
        assert_eq!(ev.verdict, Verdict::Fails);
        // A right side of zero: the left side is the only size there is.
        let ev = evaluate(Y, "E[relu(y)] = 0", None);
        assert!((ev.deviation - 1.0).abs() <= 1e-12, "{}", ev.deviation);
        // Sampled (three variables jointly have no exact form), with the
        // sides about 10% apart: relative to the right side as printed.
        let truth = (3.0 / (2.0 * PI)).sqrt();
        let ev = evaluate(
            THREE,
            &format!("E[relu(a + b + c)] = {:.17}", 0.9 * truth),
            None,
        );
        assert_eq!(ev.verdict, Verdict::Fails);
        let (l, r) = (ev.lhs.expect("lhs").value, ev.rhs.expect("rhs").value);
        assert_eq!(r, 0.9 * truth);
        assert!(
            (ev.deviation - (l - r) / r).abs() <= 1e-12,
            "{} {l} {r}",
            ev.deviation
        );
    }

    #[test]
    fn exact_inequalities() {
        assert_eq!(verdict("E[relu(y)] <= 0.399", None), Verdict::Holds);
        assert_eq!(verdict("E[relu(y)] <= 0.3989", None), Verdict::Fails);
        assert_eq!(verdict("E[relu(y)] >= 0.3989", None), Verdict::Holds);
        assert_eq!(verdict("E[relu(y)] >= 0.399", None), Verdict::Fails);
        // Equality satisfies both.
        assert_eq!(verdict("E[relu(y)^2] <= 1/2", None), Verdict::Holds);
        assert_eq!(verdict("E[relu(y)^2] >= 1/2", None), Verdict::Holds);
    }

    #[test]
    fn exact_approximations() {
        // |0.398942 - 0.4| = 0.001058.
        assert_eq!(
            verdict("E[relu(y)] ~= 0.4", Some((0.01, true))),
            Verdict::Holds
        );
        assert_eq!(
            verdict("E[relu(y)] ~= 0.4", Some((0.001, true))),
            Verdict::Fails
        );
        assert_eq!(
            verdict("E[relu(y)] ~= 0.4", Some((0.002, false))),
            Verdict::Holds
        );
        assert_eq!(
            verdict("E[relu(y)] ~= 0.4", Some((0.001, false))),
            Verdict::Fails
        );
        // A relative band is a share of the right side: 5.02% of 0.42 is
        // 0.021084 and covers |0.398942 - 0.42| = 0.021058; 5.02% of the
        // left side would be 0.020027 and would not.
        assert_eq!(
            verdict("E[relu(y)] ~= 0.42", Some((0.0502, true))),
            Verdict::Holds
        );
        // A deviation exactly on the band's edge cannot be told apart from
        // it within the slack of an exact comparison.
        assert_eq!(
            verdict("E[y] ~= 0.5", Some((0.5, false))),
            Verdict::Inconclusive
        );
    }

    const THREE: &str = "a ~ Normal(0, 1)\nb ~ Normal(0, 1)\nc ~ Normal(0, 1)";

    #[test]
    fn sampled_verdicts() {
        // a + b + c ~ Normal(0, 3), so E[relu(a + b + c)] = sqrt(3 / (2 pi));
        // the exact engine has no form for three variables jointly.
        let truth = (3.0 / (2.0 * PI)).sqrt();
        let ev = evaluate(THREE, &format!("E[relu(a + b + c)] = {truth:.17}"), None);
        assert_eq!(ev.verdict, Verdict::Holds, "{ev:?}");
        let lhs = ev.lhs.expect("lhs");
        assert!(!lhs.exact() && lhs.method == SideMethod::Sampled, "{lhs:?}");
        assert!((lhs.value - truth).abs() <= 6.0 * lhs.err, "{lhs:?}");
        assert!(ev.draws >= (BATCHES as u64) * FIRST_DRAWS, "{}", ev.draws);
        assert!(
            ev.notes.iter().any(|n| n.contains("no exact value")),
            "{:?}",
            ev.notes
        );
        // 5% off is found at once.
        let ev = evaluate(
            THREE,
            &format!("E[relu(a + b + c)] = {:.17}", 0.95 * truth),
            None,
        );
        assert_eq!(ev.verdict, Verdict::Fails, "{ev:?}");
        assert!((ev.deviation - 0.05).abs() < 0.01, "{}", ev.deviation);
        // An approximation with a band well outside the noise.
        let ev = evaluate(
            THREE,
            &format!("E[relu(a + b + c)] ~= {:.17}", 1.01 * truth),
            Some((0.03, true)),
        );
        assert_eq!(ev.verdict, Verdict::Holds, "{ev:?}");
        let ev = evaluate(
            THREE,
            &format!("E[relu(a + b + c)] ~= {:.17}", 1.1 * truth),
            Some((0.03, true)),
        );
        assert_eq!(ev.verdict, Verdict::Fails, "{ev:?}");
        // An inequality that holds with room to spare.
        let ev = evaluate(THREE, "E[relu(a + b + c)] <= 0.8", None);
        assert_eq!(ev.verdict, Verdict::Holds, "{ev:?}");
    }

    #[test]
    fn sums_shrink_largest_first_and_stay_one_variable() {
        use crate::model::rv::VarId;
        let sum = |n, t: Rv| Rv::Sum(n, Box::new(t));
        let y = Rv::Base(VarId(0));
        // The same sum written twice shrinks as one: both copies at once.
        let s = sum(6, sum(3, y.clone()));
        let mut m = Moment::E(Rv::bin(BinOp::Mul, s.clone(), s));
        assert!(halve_largest_sum(&mut m));
        let s = sum(3, sum(3, y.clone()));
        assert_eq!(m, Moment::E(Rv::bin(BinOp::Mul, s.clone(), s)));
        // Counts that tie are halved together; then the inner one is the
        // largest no more.
        assert!(halve_largest_sum(&mut m));
        let s = sum(1, sum(1, y.clone()));
        assert_eq!(m, Moment::E(Rv::bin(BinOp::Mul, s.clone(), s)));
        assert!(!halve_largest_sum(&mut m), "all counts are 1");
        let mut none = Moment::Var(y);
        assert!(!halve_largest_sum(&mut none));
    }

    #[test]
    fn pilots_fit_their_share_and_the_power_stage_repeats_them() {
        // 1024 draws per batch where they fit, fewer where the share or
        // --max-samples is smaller.
        assert_eq!(pilot_draws(4, 1e12, 1 << 24), FIRST_DRAWS);
        assert_eq!(pilot_draws(1000, 128.0 * 1000.0 * 100.0, 1 << 24), 100);
        assert_eq!(pilot_draws(4, 1e12, 128 * 50), 50);
        // A claim the pilot cannot decide at the default resolution asks
        // for a powered size; the powered evaluation decides it there.
        let truth = (3.0 / (2.0 * PI)).sqrt();
        let claim = format!("E[relu(a + b + c)] = {truth:.17}");
        let funcs: HashMap<String, FunctionDef> = HashMap::new();
        let model = build("t", &parse_model(THREE).expect("parses"), &funcs).expect("resolves");
        let c = parse_claim(&claim).expect("parses");
        let mut moments = Vec::new();
        let lhs = model.side(&c.lhs, &funcs, &mut moments).expect("lhs");
        let rhs = model.side(&c.rhs, &funcs, &mut moments).expect("rhs");
        let trial = Trial {
            scenario: &model.scenario,
            moments: &moments,
            lhs: &lhs,
            rhs: &rhs,
            relation: c.relation,
            within: None,
            key: StreamKey::new(3, &["power"]),
        };
        let exact = trial.exact_moments();
        let budget = Budget::new(Budget::tests_for(moments.len(), true));
        let settings = Settings::default();
        let pilot = trial.evaluate(&exact, &settings, &budget, Stage::Pilot);
        assert_eq!(pilot.verdict, Verdict::Inconclusive, "{pilot:?}");
        let need = pilot.need.expect("the pilot asks for more");
        assert!(need > FIRST_DRAWS, "{need}");
        let ev = trial.evaluate(&exact, &settings, &budget, Stage::Powered(need));
        assert_eq!(ev.verdict, Verdict::Holds, "{ev:?}");
        // The powered stage looks at the pilot's draws again, then at the
        // plug-in size and, only if that does not decide, at `need`.
        assert!(ev.draws <= need * BATCHES as u64, "{} {need}", ev.draws);
        assert!(2 * ev.draws >= 3 * pilot.draws, "{}", ev.draws);
        let looks = ev
            .notes
            .iter()
            .find(|n| n.starts_with("sampled in looks"))
            .expect("the looks are noted");
        let first = format!("sampled in looks of {} (the pilot)", pilot.draws);
        assert!(looks.starts_with(&first), "{looks}");
        let last = |what| format!("{} ({what}) draws", ev.draws);
        assert!(
            looks.ends_with(&last("plug-in")) || looks.ends_with(&last("worst case")),
            "{looks}"
        );
        // At 1e-4 the size is over --max-samples: refused, with the count.
        let fine = Settings {
            resolution: 1e-4,
            ..Settings::default()
        };
        let ev = trial.evaluate(&exact, &fine, &budget, Stage::Pilot);
        let why = ev.refused.expect("refused");
        assert!(why.contains("more than --max-samples 67108864"), "{why}");
    }

    /// Two claims of one scenario checked against one pool: the moment they
    /// share is drawn once and reads the same in both, each is checked with
    /// a first look's draws, and a wrong exact value is still a defect.
    /// E[relu(y)^2] = 1/2 and Var[y] = 1 for a unit Gaussian y; the
    /// estimator of E[relu(y)^2] has sd sqrt(E[y^4]/2 - 1/4) = sqrt(5)/2, so
    /// over 131072 draws its standard error is 0.0031 and 0.55 is 16 of them
    /// off.
    #[test]
    fn a_pool_checks_each_claim_against_its_scenarios_draws() {
        let model = unit_gaussian();
        let resolve = |claim: &str| resolved(&model, claim);
        let half = resolve("E[relu(y)^2] = Var[y] / 2");
        let unit = resolve("Var[y] = 1");
        let (half_trial, unit_trial) = (
            resolved_trial(&model.scenario, &half),
            resolved_trial(&model.scenario, &unit),
        );
        let mut pool = Pool::new(StreamKey::new(5, &["pool test"]));
        let half_columns = pool.join(&half.1);
        let unit_columns = pool.join(&unit.1);
        assert_eq!(pool.moments.len(), 2, "Var[y] is drawn once");
        assert_eq!(half_columns, vec![0, 1]);
        assert_eq!(unit_columns, vec![1]);
        let settings = Settings::default();
        let per_batch = pooled_draws(pool.cost_per_draw(&model.scenario), &settings);
        assert_eq!(per_batch, Some(FIRST_DRAWS));
        let drawn = pool.draw(&model.scenario, FIRST_DRAWS);
        let budget = Budget::new(3);
        let check = |t: &Trial, exact: &[Outcome], columns: &[usize]| {
            t.pooled(exact, &settings, &budget, &drawn, columns)
                .expect("decided exactly, so pooled")
        };
        let half_exact = half_trial.exact_moments();
        let unit_exact = unit_trial.exact_moments();
        let a = check(&half_trial, &half_exact, &half_columns);
        let b = check(&unit_trial, &unit_exact, &unit_columns);
        for ev in [&a, &b] {
            assert_eq!(ev.verdict, Verdict::Holds, "{ev:?}");
            assert!(ev.defects.is_empty(), "{ev:?}");
            assert_eq!(ev.draws, FIRST_DRAWS * BATCHES as u64);
            assert_eq!(
                ev.cost_per_draw, 0,
                "the pool's draws are counted by the pool"
            );
        }
        // Var[y]/2 and Var[y] from the same column: halving is exact.
        let sampled = |v: &Option<SideValue>| v.as_ref().and_then(|v| v.sampled).expect("sampled");
        let (var_half, var) = (sampled(&a.rhs), sampled(&b.lhs));
        assert_eq!((var_half.0, var_half.1), (var.0 / 2.0, var.1 / 2.0));
        assert!((var.0 - 1.0).abs() < 6.0 * var.1, "{var:?}");
        // The other claim's own stream draws other numbers: the pool's
        // sample is the scenario's, not a claim's.
        let own = unit_trial.evaluate(&unit_exact, &settings, &budget, Stage::Pilot);
        assert_ne!(sampled(&own.lhs), var);
        // A wrong exact value in the pooled path is a defect, of that
        // claim only.
        let mut wrong = half_exact.clone();
        wrong[0].as_mut().expect("exact").val.value = 0.55;
        let a = check(&half_trial, &wrong, &half_columns);
        assert_eq!(a.defects.len(), 1, "{a:?}");
        let d = &a.defects[0];
        assert_eq!(d.moment, "E[relu(y)^2]");
        assert_eq!(d.exact, 0.55);
        assert!((d.sampled - 0.5).abs() < 6.0 * d.se, "{d:?}");
        assert_eq!(check(&unit_trial, &unit_exact, &unit_columns), b);
    }

    /// A claim's sides resolved in a model: relation, moments, sides.
    type Resolved = (Relation, Vec<Moment>, Side, Side);

    fn resolved_trial<'a>(scenario: &'a Scenario, r: &'a Resolved) -> Trial<'a> {
        Trial {
            scenario,
            moments: &r.1,
            lhs: &r.2,
            rhs: &r.3,
            relation: r.0,
            within: None,
            key: StreamKey::new(5, &["a claim's own stream"]),
        }
    }

    /// A pool whose draws meet NaN blames the claims whose moment it is,
    /// and leaves the others to their own samples. log(y) is NaN for half
    /// the draws of a unit Gaussian; the exact engine would not give it a
    /// value, so an exact outcome is lent to it to reach the pooled path.
    #[test]
    fn a_pool_that_meets_a_non_finite_draw_blames_only_its_owners() {
        let model = unit_gaussian();
        let resolve = |claim: &str| resolved(&model, claim);
        let (good, bad) = (resolve("E[y^2] = 1"), resolve("E[log(y)] = 0"));
        let mut pool = Pool::new(StreamKey::new(5, &["nan"]));
        let good_columns = pool.join(&good.1);
        let bad_columns = pool.join(&bad.1);
        let drawn = pool.draw(&model.scenario, FIRST_DRAWS);
        assert!(drawn.sample.is_err());
        let (good_trial, bad_trial) = (
            resolved_trial(&model.scenario, &good),
            resolved_trial(&model.scenario, &bad),
        );
        let exact = good_trial.exact_moments();
        let (settings, budget) = (Settings::default(), Budget::new(2));
        assert!(
            good_trial
                .pooled(&exact, &settings, &budget, &drawn, &good_columns)
                .is_none(),
            "not its moment: its own sample decides"
        );
        let ev = bad_trial
            .pooled(&exact, &settings, &budget, &drawn, &bad_columns)
            .expect("its moment failed");
        assert_eq!(
            ev.non_finite.as_deref(),
            Some("E[log(y)] evaluates to NaN for some draws")
        );
    }

    #[test]
    fn undefined_moments_give_no_verdict() {
        let ev = evaluate("c ~ Cauchy(0, 1)", "E[c] = 0", None);
        assert_eq!(ev.verdict, Verdict::Undefined);
        assert!(ev.lhs.is_none() && ev.draws == 0, "{ev:?}");
        assert!(
            ev.notes.iter().any(|n| n.contains("Cauchy")),
            "{:?}",
            ev.notes
        );
    }

    #[test]
    fn intervals_are_judged_by_what_the_relation_allows() {
        use super::{Relation, Verdict, interval_verdict};
        // = : an interval away from 0 fails; one inside the resolution holds.
        assert_eq!(
            interval_verdict(Relation::Eq, 0.3, 0.1, 0.5).0,
            Verdict::Fails
        );
        assert_eq!(
            interval_verdict(Relation::Eq, 0.05, 0.1, 0.5),
            (Verdict::Holds, 0.15000000000000002)
        );
        assert_eq!(
            interval_verdict(Relation::Eq, 0.05, 0.1, 0.1).0,
            Verdict::Inconclusive
        );
        // <= and >= are mirror images.
        assert_eq!(
            interval_verdict(Relation::Le, -1.0, 0.1, 0.01).0,
            Verdict::Holds
        );
        assert_eq!(
            interval_verdict(Relation::Ge, -1.0, 0.1, 0.01).0,
            Verdict::Fails
        );
        assert_eq!(
            interval_verdict(Relation::Ge, 1.0, 0.1, 0.01).0,
            Verdict::Holds
        );
        assert_eq!(
            interval_verdict(Relation::Le, 0.05, 0.1, 0.01).0,
            Verdict::Inconclusive
        );
        // ~= : inside the band holds, wholly outside fails, across is open.
        assert_eq!(
            interval_verdict(Relation::Approx, 0.3, 0.1, 0.5).0,
            Verdict::Holds
        );
        assert_eq!(
            interval_verdict(Relation::Approx, 0.7, 0.1, 0.5).0,
            Verdict::Fails
        );
        assert_eq!(
            interval_verdict(Relation::Approx, 0.45, 0.1, 0.5).0,
            Verdict::Inconclusive
        );
    }
}
