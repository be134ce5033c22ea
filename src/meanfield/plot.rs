//! The (sigma_w^2, sigma_b^2) phase diagram: the critical line chi_1 = 1 of
//! each activation named, and, for the first, xi_c as shading.
//!
//! Left of a critical line the network is ordered (inputs converge, c* = 1,
//! gradients vanish), right of it chaotic (inputs decorrelate to c* < 1,
//! gradients explode); xi_c, the depth over which correlations reach c*,
//! diverges on the line, which is why signals travel deepest there. The
//! line is traced through its fixed points (see [`traced`]), or found per
//! sigma_b^2 by [`super::edge`] where that cannot move it; the shading is [`super::point`] at each cell's centre. Cells are
//! coloured by log(xi_c), darker for deeper, in one hue so the lines drawn
//! over them stay legible.
//!
//! Plot-only numbers are not restated and sampled as the printed ones are:
//! they come from the same functions, which the printed numbers check.
//! Same style as `net::plot`: plotters' svg backend with its built-in text
//! metrics, so the bytes depend only on the numbers, written whole.

use super::{edge, point};
use crate::diag::InputError;
use crate::gain::Activation;
use crate::net::plot::{drawing, finish, labelled_line, write_whole};
use plotters::prelude::*;
use std::path::Path;

/// The window: sigma_w^2 and sigma_b^2 ranges (Poole et al.'s Figure).
pub const WEIGHT_VAR: (f64, f64) = (0.5, 4.5);
pub const BIAS_VAR: (f64, f64) = (0.0, 0.3);
/// Bias variances at which a critical line is found by bisection.
const LINE_POINTS: usize = 7;
/// Fixed points q from 1e-3 to 1e3 a traced critical line passes through.
const TRACE_STEPS: u32 = 120;
/// Shading cells (sigma_w^2 by sigma_b^2).
const CELLS: (usize, usize) = (16, 6);

/// CPU-seconds of one core per bivariate quadrature (a pair moment, the
/// c-map's) and per one-dimensional moment. Measured on tanh by counting
/// the quadratures of `time initaudit meanfield tanh --plot phase.svg`
/// (temporary counters around `pair_moment` and `Activation::moment`):
/// 3082 pair moments and 6689 single ones in 127.6 s of user time, the
/// single ones 5.5 s of it (0.8 ms each, timed on a loaded machine, so
/// rounded up to 1 ms) and the pair ones the rest, 0.040 s each.
const PAIR_SECONDS: f64 = 0.04;
const SINGLE_SECONDS: f64 = 1e-3;
/// Pair moments per shading cell: a chaotic cell scans the c-map for c*
/// (up to 47 points, then a bisection), an ordered one needs none; tanh's
/// 96 cells took 3082, 32 a cell.
const PAIRS_PER_CELL: f64 = 32.0;
/// Single moments per point whose length map is iterated to its fixed
/// point (the search and bisection of `gain::fixed_point`, then chi_1 and
/// the slope): tanh's cells took 6689 - 242 (the trace) over 96, 67 each.
const SINGLES_PER_FIXED_POINT: f64 = 70.0;
/// sigma_w^2 tried per edge search: the scan of `EDGE_RANGE` (29
/// points) and a bisection to 1e-11 (about 37 halvings).
const EDGE_STEPS: f64 = 66.0;

/// The work the diagram of `acts` is estimated at, in CPU-seconds of one
/// core, before any of it is done: the trace of each line (two moments a
/// fixed point), the bisection each line may fall back to (counted for
/// every activation, since only the trace tells which need it), and the
/// shading of the first.
pub fn estimate(acts: usize) -> f64 {
    let trace = 2.0 * f64::from(TRACE_STEPS + 1) * SINGLE_SECONDS;
    let bisected = LINE_POINTS as f64 * EDGE_STEPS * SINGLES_PER_FIXED_POINT * SINGLE_SECONDS;
    let cells = (CELLS.0 * CELLS.1) as f64;
    let shading =
        cells * (SINGLES_PER_FIXED_POINT * SINGLE_SECONDS + PAIRS_PER_CELL * PAIR_SECONDS);
    acts as f64 * (trace + bisected) + if acts > 0 { shading } else { 0.0 }
}

/// The diagram refused before any work when its estimate is over `budget`.
pub fn refuse_over_budget(acts: usize, budget: f64) -> Result<(), String> {
    let total = estimate(acts);
    if total <= budget {
        return Ok(());
    }
    Err(format!(
        "the phase diagram is estimated at {} of work on one core, over the budget of {}: \
         {} shading cells of about {} pair quadratures each at {} apiece, and the critical \
         lines of {} activation(s)",
        crate::work::human_seconds(total),
        crate::work::human_seconds(budget),
        CELLS.0 * CELLS.1,
        PAIRS_PER_CELL,
        crate::work::human_seconds(PAIR_SECONDS),
        acts
    ))
}

/// One activation's critical line: (sigma_b^2, sigma_w^2 at the edge).
#[derive(Clone, Debug)]
pub struct Line {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// The computed diagram.
#[derive(Clone, Debug)]
pub struct Diagram {
    pub lines: Vec<Line>,
    /// (cell centre sigma_w^2, sigma_b^2, xi_c), infinite where critical.
    pub shading: Vec<(f64, f64, f64)>,
    pub shaded: String,
}

/// The critical line traced by its fixed point: at q* = q, chi_1 = 1 needs
/// sigma_w^2 = 1 / E[f'(sqrt(q) z)^2], and q is then the fixed point for
/// sigma_b^2 = q - sigma_w^2 E[f(sqrt(q) z)^2]. Two moments a point and
/// no root to find; points outside the window are dropped.
fn traced(act: &Activation) -> Result<Vec<(f64, f64)>, InputError> {
    let mut points = Vec::new();
    for k in 0..=TRACE_STEPS {
        let q = 10f64.powf(-3.0 + 6.0 * f64::from(k) / f64::from(TRACE_STEPS));
        let d = act.expectation("F'(z)^2", q)?.value;
        if d <= 0.0 {
            continue;
        }
        let w2 = 1.0 / d;
        let b2 = q - w2 * act.expectation("F(z)^2", q)?.value;
        if (BIAS_VAR.0..=BIAS_VAR.1).contains(&b2) && (WEIGHT_VAR.0..=WEIGHT_VAR.1).contains(&w2) {
            points.push((b2, w2));
        }
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(points)
}

/// Computes the critical lines of `acts` and the first one's xi_c.
pub fn diagram(acts: &[Activation]) -> Result<Diagram, InputError> {
    let _progress = crate::progress::run();
    crate::progress::phase("phase diagram: critical lines", acts.len() as u64);
    let mut lines = Vec::new();
    for act in acts {
        crate::progress::advance(1);
        let mut points = traced(act)?;
        // A homogeneous activation (ReLU) is critical at one sigma_w^2 for
        // every q, which the trace sees only at sigma_b^2 = 0: its line is
        // found by bisection at each sigma_b^2 instead.
        let spread = points.last().map_or(0.0, |p| p.0) - points.first().map_or(0.0, |p| p.0);
        if spread < (BIAS_VAR.1 - BIAS_VAR.0) / 4.0 {
            points.clear();
            for i in 0..LINE_POINTS {
                let b2 =
                    BIAS_VAR.0 + (BIAS_VAR.1 - BIAS_VAR.0) * i as f64 / (LINE_POINTS - 1) as f64;
                if let Some(w2) = edge(act, b2)? {
                    points.push((b2, w2));
                }
            }
        }
        lines.push(Line {
            label: act.label.clone(),
            points,
        });
    }
    let mut shading = Vec::new();
    if let Some(act) = acts.first() {
        let (dw, db) = cell_size();
        crate::progress::phase("phase diagram: shading", (CELLS.0 * CELLS.1) as u64);
        for j in 0..CELLS.1 {
            crate::progress::advance(CELLS.0 as u64);
            for i in 0..CELLS.0 {
                let w2 = WEIGHT_VAR.0 + (i as f64 + 0.5) * dw;
                let b2 = BIAS_VAR.0 + (j as f64 + 0.5) * db;
                let p = point(act, w2, b2)?;
                if p.chi_c.is_some() {
                    shading.push((w2, b2, p.xi_c().unwrap_or(f64::INFINITY)));
                }
            }
        }
    }
    Ok(Diagram {
        lines,
        shading,
        shaded: acts.first().map(|a| a.label.clone()).unwrap_or_default(),
    })
}

fn cell_size() -> (f64, f64) {
    (
        (WEIGHT_VAR.1 - WEIGHT_VAR.0) / CELLS.0 as f64,
        (BIAS_VAR.1 - BIAS_VAR.0) / CELLS.1 as f64,
    )
}

/// Draws the diagram into an svg file, whole or not at all.
pub fn draw(path: &Path, d: &Diagram) -> Result<(), String> {
    let svg = render(d)?;
    write_whole(path, svg.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn render(d: &Diagram) -> Result<String, String> {
    let mut svg = String::new();
    let root = SVGBackend::with_string(&mut svg, (960, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(drawing)?;
    let title = format!(
        "phase diagram: critical lines chi_1 = 1; shading xi_c of {} (darker = deeper)",
        d.shaded
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(WEIGHT_VAR.0..WEIGHT_VAR.1, BIAS_VAR.0..BIAS_VAR.1)
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .x_desc("sigma_w^2 (ordered to the left, chaotic to the right)")
        .y_desc("sigma_b^2")
        .draw()
        .map_err(drawing)?;
    // log(xi_c) scaled over the cells' own range; the critical cells (xi_c
    // infinite) take the darkest shade.
    let logs: Vec<f64> = d
        .shading
        .iter()
        .map(|c| c.2.ln())
        .filter(|l| l.is_finite())
        .collect();
    let lo = logs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (dw, db) = cell_size();
    for &(w2, b2, xi) in &d.shading {
        let t = if xi.is_finite() && hi > lo {
            (xi.ln() - lo) / (hi - lo)
        } else {
            1.0
        };
        let shade = (235.0 - 150.0 * t).round() as u8;
        let color = RGBColor(shade, shade, 255);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [
                    (w2 - dw / 2.0, b2 - db / 2.0),
                    (w2 + dw / 2.0, b2 + db / 2.0),
                ],
                color.filled(),
            )))
            .map_err(drawing)?;
    }
    for (i, line) in d.lines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        labelled_line(
            &mut chart,
            line.points.iter().map(|&(b2, w2)| (w2, b2)),
            color,
            3,
            &line.label,
        )?;
    }
    finish(chart, &root, SeriesLabelPosition::UpperRight)?;
    drop(root);
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagram_is_drawn_whole_with_its_lines_and_cells() {
        let d = Diagram {
            lines: vec![Line {
                label: "tanh".into(),
                points: vec![(0.0, 1.0), (0.15, 1.9), (0.3, 2.5)],
            }],
            shading: vec![
                (1.0, 0.05, 2.0),
                (2.0, 0.05, f64::INFINITY),
                (3.0, 0.05, 10.0),
            ],
            shaded: "tanh".into(),
        };
        let dir = std::env::temp_dir().join(format!("initaudit-phase-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("phase.svg");
        draw(&path, &d).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
        assert!(
            text.contains("tanh") && text.contains("sigma_b^2"),
            "{text}"
        );
        // Three cells, in three shades: the infinite xi_c the darkest.
        assert!(
            text.contains("rgb(85,85,255)") || text.contains("#5555FF"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_estimate_counts_every_activation_and_refuses_over_the_budget() {
        // The shading (96 cells) dominates: 96 (0.07 + 32 x 0.04) s.
        let one = estimate(1);
        assert!(
            (one - (242e-3 + 7.0 * 66.0 * 70e-3 + 96.0 * 1.35)).abs() < 1e-9,
            "{one}"
        );
        assert!(estimate(2) > one && estimate(0) == 0.0);
        assert!(refuse_over_budget(1, crate::work::DEFAULT_BUDGET).is_ok());
        let e = refuse_over_budget(2, 1.0).unwrap_err();
        assert!(e.contains("over the budget of 1.00 s"), "{e}");
    }
}
