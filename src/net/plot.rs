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

/// Draws the curves into an svg file.
pub fn draw(path: &Path, title: &str, curves: &[Curve]) -> Result<(), String> {
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
    let err = |e: String| format!("cannot draw {}: {e}", path.display());
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
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
    Ok(())
}
