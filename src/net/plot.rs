//! Plots of series against depth: one curve per (network, statistic), on a
//! log scale, with a shaded band of one standard error either side.
//!
//! A log scale because the papers' recurrences are products: a constant
//! factor per layer is a straight line, flat for a variance-preserving
//! initialization and sloped by log(1/2) per layer for Glorot's forward
//! condition under ReLU. Only positive values can be drawn on it, so the
//! caller passes second moments and variances; a band that reaches zero is
//! cut at the bottom of the chart. The file is plain SVG: plotters' svg
//! backend with its built-in text metrics, so no font is loaded and the
//! bytes depend only on the numbers.
//!
//! With `initaudit net --jacobian`, the plot is instead the histogram of the
//! last layer's squared singular values ([`draw_spectra`]): on log10 s2,
//! because a deep Gaussian network's spectrum spans decades while an
//! orthogonal linear one's is a single point.

use plotters::prelude::*;
use std::path::Path;

/// One curve: a label and (layer, value, standard error) points.
#[derive(Clone, Debug)]
pub struct Curve {
    pub label: String,
    pub points: Vec<(f64, f64, f64)>,
}

/// Draws the curves into an svg file. The picture is drawn in memory and
/// written through [`write_whole`], so an interrupted run never leaves a
/// truncated svg where a previous good one was.
pub fn draw(path: &Path, title: &str, curves: &[Curve]) -> Result<(), String> {
    let svg = render(title, curves)?;
    write_whole(path, svg.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes `bytes` to `path` all or nothing: into a temporary file beside
/// it, flushed to disk, then renamed over it (a rename within a folder is
/// atomic). A SIGINT or a failure at any point leaves `path` as it was;
/// the temporary file is removed on failure.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The svg text of the chart.
fn render(title: &str, curves: &[Curve]) -> Result<String, String> {
    let positive = curves
        .iter()
        .flat_map(|c| c.points.iter())
        .filter(|p| p.1 > 0.0 && p.1.is_finite());
    let (lo, hi) = positive.fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1 + p.2.max(0.0)))
    });
    if lo > hi {
        return Err("nothing to plot: no positive finite value".to_string());
    }
    // A decade of room on each side keeps flat curves off the frame.
    let (lo, hi) = (lo / 10f64.powf(0.5), hi * 10f64.powf(0.5));
    let x_max = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    let mut svg = String::new();
    let root = SVGBackend::with_string(&mut svg, (960, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(drawing)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, (lo..hi).log_scale())
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .x_desc("layer l")
        .y_desc("per-unit statistic (log scale)")
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()
        .map_err(drawing)?;
    for (i, c) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts: Vec<&(f64, f64, f64)> = c
            .points
            .iter()
            .filter(|p| p.1 > 0.0 && p.1.is_finite())
            .collect();
        let mut band: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, (p.1 + p.2).min(hi))).collect();
        band.extend(pts.iter().rev().map(|p| (p.0, (p.1 - p.2).max(lo))));
        chart
            .draw_series(std::iter::once(Polygon::new(band, color.mix(0.2))))
            .map_err(drawing)?;
        labelled_line(
            &mut chart,
            pts.iter().map(|p| (p.0, p.1)),
            color,
            2,
            &c.label,
        )?;
    }
    finish(chart, &root, SeriesLabelPosition::LowerLeft)?;
    drop(root);
    Ok(svg)
}

/// The chart type every plot here draws on: two numeric axes of an svg.
pub type Chart<'a, 'b, X, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>;

/// The error of drawing, as a message.
pub fn drawing(e: impl std::fmt::Display) -> String {
    format!("cannot draw the plot: {e}")
}

/// A line through `points`, with a legend entry in the same stroke.
pub fn labelled_line<X, Y>(
    chart: &mut Chart<'_, '_, X, Y>,
    points: impl IntoIterator<Item = (X::ValueType, Y::ValueType)>,
    color: RGBAColor,
    width: u32,
    label: &str,
) -> Result<(), String>
where
    X: Ranged,
    Y: Ranged,
    X::ValueType: Clone + 'static,
    Y::ValueType: Clone + 'static,
{
    chart
        .draw_series(LineSeries::new(points, color.stroke_width(width)))
        .map_err(drawing)?
        .label(label)
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
        });
    Ok(())
}

/// The legend at `position`, then the picture written out: what every
/// plot ends with.
pub fn finish<'b, X: Ranged, Y: Ranged>(
    mut chart: Chart<'b, 'b, X, Y>,
    root: &DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(position)
        .draw()
        .map_err(drawing)?;
    root.present().map_err(drawing)
}

/// Bins of the spectrum's histogram, over log10 of s2.
const BINS: usize = 60;

/// Decades below the largest squared singular value that the histogram
/// shows: below that a value is rounding or an exact zero (a ReLU's dead
/// units), which a log axis cannot place; the legend says what share each
/// network has there.
const DECADES: f64 = 12.0;

/// The histograms of squared singular values (one panel per named network)
/// as densities of log10 s2, drawn as steps on a shared axis, written whole.
pub fn draw_spectra(
    path: &Path,
    title: &str,
    spectra: &[(String, Vec<f64>)],
) -> Result<(), String> {
    let svg = render_spectra(title, spectra)?;
    write_whole(path, svg.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Counts of log10 s2 in [lo, hi), `BINS` equal bins, as densities (the
/// area under a network's steps is the share of its values shown), and
/// that share.
fn densities(values: &[f64], lo: f64, hi: f64) -> (Vec<f64>, f64) {
    let width = (hi - lo) / BINS as f64;
    let mut counts = vec![0usize; BINS];
    let mut shown = 0usize;
    for v in values {
        let x = v.log10();
        if x.is_finite() && x >= lo && x <= hi {
            let bin = (((x - lo) / width) as usize).min(BINS - 1);
            counts[bin] += 1;
            shown += 1;
        }
    }
    let total = values.len().max(1) as f64;
    (
        counts.iter().map(|&c| c as f64 / (total * width)).collect(),
        shown as f64 / total,
    )
}

fn render_spectra(title: &str, spectra: &[(String, Vec<f64>)]) -> Result<String, String> {
    let top = spectra
        .iter()
        .flat_map(|(_, v)| v.iter())
        .filter(|v| v.is_finite() && **v > 0.0)
        .fold(f64::NEG_INFINITY, |a, v| a.max(v.log10()));
    if !top.is_finite() {
        return Err("nothing to plot: no positive finite squared singular value".to_string());
    }
    let bottom = spectra
        .iter()
        .flat_map(|(_, v)| v.iter())
        .filter(|v| v.is_finite() && **v > 0.0)
        .fold(f64::INFINITY, |a, v| a.min(v.log10()))
        .max(top - DECADES);
    // An isometry's spectrum is one point: give the axis some width.
    let (lo, hi) = if top - bottom < 0.5 {
        (bottom - 0.5, top + 0.5)
    } else {
        (bottom, top + 1e-9 * top.abs().max(1.0))
    };
    let hists: Vec<(String, Vec<f64>)> = spectra
        .iter()
        .map(|(name, v)| {
            let (d, share) = densities(v, lo, hi);
            let label = if share < 1.0 {
                format!(
                    "{name}: {:.0}% below 1e{:.0} not shown",
                    100.0 * (1.0 - share),
                    lo
                )
            } else {
                name.clone()
            };
            (label, d)
        })
        .collect();
    let width = (hi - lo) / BINS as f64;
    let mut svg = String::new();
    // One panel per network, three to a row, each on its own density
    // scale (an isometry's single bin is tens of times taller than a
    // spread spectrum's peak) and all on the same log10 s2 axis.
    let cols = hists.len().clamp(1, 3);
    let rows = hists.len().div_ceil(cols);
    {
        let root =
            SVGBackend::with_string(&mut svg, (960, 40 + 300 * rows as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let root = root.titled(title, ("sans-serif", 18)).map_err(drawing)?;
        let panels = root.split_evenly((rows, cols));
        for (i, ((label, d), panel)) in hists.iter().zip(panels.iter()).enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let y_max = d.iter().fold(0.0f64, |a, &v| a.max(v)) * 1.1;
            let mut chart = ChartBuilder::on(panel)
                .caption(label, ("sans-serif", 13))
                .margin(8)
                .x_label_area_size(30)
                .y_label_area_size(40)
                .build_cartesian_2d(lo..hi, 0f64..y_max.max(1e-12))
                .map_err(drawing)?;
            chart
                .configure_mesh()
                .x_desc("log10 s2")
                .y_desc("density")
                .x_labels(6)
                .y_labels(4)
                .draw()
                .map_err(drawing)?;
            let mut steps = Vec::with_capacity(2 * BINS + 2);
            steps.push((lo, 0.0));
            for (b, v) in d.iter().enumerate() {
                let x0 = lo + b as f64 * width;
                steps.push((x0, *v));
                steps.push((x0 + width, *v));
            }
            steps.push((hi, 0.0));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    steps.clone(),
                    color.mix(0.25),
                )))
                .map_err(drawing)?;
            chart
                .draw_series(LineSeries::new(steps, color.stroke_width(2)))
                .map_err(drawing)?;
        }
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("initaudit-plot-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_plot_is_written_whole_and_nothing_else_is_left() {
        let dir = scratch("whole");
        let path = dir.join("p.svg");
        let curve = Curve {
            label: "Var[y]".into(),
            points: vec![(0.0, 1.0, 0.1), (1.0, 0.5, 0.05), (2.0, 0.25, 0.02)],
        };
        draw(&path, "t", std::slice::from_ref(&curve)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("<svg") && text.trim_end().ends_with("</svg>"),
            "{text}"
        );
        assert_eq!(leftovers(&dir), ["p.svg"]);
        // Drawing again replaces the file with the same bytes.
        draw(&path, "t", &[curve]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert_eq!(leftovers(&dir), ["p.svg"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = scratch("failed");
        let path = dir.join("p.svg");
        std::fs::write(&path, "old").unwrap();
        // Nothing positive to draw: refused before anything is written.
        let flat = Curve {
            label: "zero".into(),
            points: vec![(0.0, 0.0, 0.0)],
        };
        assert!(draw(&path, "t", &[flat]).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        // The rename fails (the target is a folder that is not empty): the
        // temporary file is removed.
        let blocked = dir.join("blocked");
        std::fs::create_dir_all(blocked.join("inside")).unwrap();
        assert!(write_whole(&blocked, b"new").is_err());
        let mut left = leftovers(&dir);
        left.sort();
        assert_eq!(left, ["blocked", "p.svg"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
