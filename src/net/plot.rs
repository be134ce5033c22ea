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
    let err = |e: String| format!("cannot draw the plot: {e}");
    let mut svg = String::new();
    let root = SVGBackend::with_string(&mut svg, (960, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, (lo..hi).log_scale())
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("layer l")
        .y_desc("per-unit statistic (log scale)")
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()
        .map_err(|e| err(e.to_string()))?;
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
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|p| (p.0, p.1)),
                color.stroke_width(2),
            ))
            .map_err(|e| err(e.to_string()))?
            .label(c.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))?;
    drop(chart);
    drop(root);
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
