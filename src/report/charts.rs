//! Charts of the HTML report, drawn with plotters' SVG backend into strings.
//!
//! The SVG backend writes text as `<text>` elements, so no font files are read: the viewer's
//! sans-serif font draws them. Each chart's root `<svg>` carries an `id`, so the page and the
//! browser test can find it.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Write as _;
use thiserror::Error;

/// Errors drawing a chart.
#[derive(Debug, Error)]
pub enum ChartError {
    /// plotters failed to lay out or draw the chart.
    #[error("cannot draw chart {id}: {source}")]
    Draw {
        /// The chart's id.
        id: String,
        /// What plotters reported.
        #[source]
        source: DrawingAreaErrorKind<std::io::Error>,
    },
    /// The chart was given nothing to draw.
    #[error("chart {id} has no data")]
    NoData {
        /// The chart's id.
        id: String,
    },
}

/// A named line: `(x, y)` points in drawing order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label (`post-dial delay`, `offered load (Erl)`).
    pub name: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
}

/// A vertical reference line on a chart, e.g. a threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Legend label (`ACC-CONNECT-DELAY mean ≤ 1000 ms`).
    pub label: String,
    /// Position on the x axis.
    pub x: f64,
}

/// Voice quality measured under one network condition (ACC-PESQ-GOOD/POOR/BAD).
#[derive(Debug, Clone, PartialEq)]
pub struct MosByCondition {
    /// The condition (`good network`, `1 % loss, 20 ms jitter, 100 ms delay`).
    pub condition: String,
    /// SPEC.md id of its threshold, when it has one.
    pub spec_id: Option<String>,
    /// Calls scored.
    pub calls: u64,
    /// Mean score.
    pub mean: f64,
    /// Lowest score.
    pub min: f64,
    /// Highest score.
    pub max: f64,
    /// The threshold the mean must exceed, when there is one.
    pub threshold: Option<f64>,
}

/// Width of every chart in SVG user units; the page scales it to its column.
pub const CHART_WIDTH: u32 = 860;
/// Height of the line charts.
pub const CHART_HEIGHT: u32 = 380;

/// The report's series colours: distinguishable, print well, safe for the common colour-vision
/// deficiencies.
const PALETTE: [RGBColor; 5] = [
    RGBColor(0x1f, 0x4e, 0x79),
    RGBColor(0xd9, 0x7b, 0x29),
    RGBColor(0x2a, 0x9d, 0x8f),
    RGBColor(0x7b, 0x4f, 0x9d),
    RGBColor(0x8c, 0x8c, 0x8c),
];
const THRESHOLD: RGBColor = RGBColor(0xb0, 0x2a, 0x2a);
const AXIS: RGBColor = RGBColor(0x55, 0x5b, 0x66);
const GRID_BOLD: RGBColor = RGBColor(0xdd, 0xe1, 0xe6);
const GRID_LIGHT: RGBColor = RGBColor(0xf0, 0xf2, 0xf4);
/// The band behind shaded hours (busy hours).
const SHADE: RGBColor = RGBColor(0xfb, 0xe9, 0xc8);
const TEXT: RGBColor = RGBColor(0x22, 0x28, 0x30);
const FONT: &str = "sans-serif";

/// Most points drawn per line; longer series are thinned evenly (keeping the last point).
const MAX_POINTS: usize = 600;

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The frame every chart has: margins, and label areas for the x axis and (`y_area` wide) the
/// y axis.
fn framed<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    top: u32,
    y_area: u32,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(root);
    b.margin_top(top)
        .margin_right(28)
        .margin_left(8)
        .margin_bottom(8)
        .x_label_area_size(48)
        .y_label_area_size(y_area);
    b
}

/// Draws into an SVG string of `size`, then gives its root element `id`, a class and an
/// accessible label.
fn render<F>(id: &str, label: &str, size: (u32, u32), draw: F) -> Result<String, ChartError>
where
    F: FnOnce(
        &DrawingArea<SVGBackend<'_>, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<std::io::Error>>,
{
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let res = root
            .fill(&WHITE)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present());
        res.map_err(|source| ChartError::Draw {
            id: id.to_owned(),
            source,
        })?;
    }
    let attrs = format!(
        "<svg id=\"{}\" class=\"chart\" role=\"img\" aria-label=\"{}\" ",
        super::junit::escape_attr(id),
        super::junit::escape_attr(label)
    );
    Ok(svg.replacen("<svg ", &attrs, 1))
}

/// At most [`MAX_POINTS`] of `points`, evenly spaced, the last one kept; non-finite points are
/// dropped.
fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let finite: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if finite.len() <= MAX_POINTS {
        return finite;
    }
    let step = finite.len().div_ceil(MAX_POINTS);
    let mut out: Vec<(f64, f64)> = finite.iter().copied().step_by(step).collect();
    if let (Some(last), Some(kept)) = (finite.last(), out.last()) {
        if last != kept {
            out.push(*last);
        }
    }
    out
}

/// A cumulative distribution: x in ms, y the fraction of samples at or below x (0‥1), one line
/// per series, thresholds as dashed vertical lines.
pub fn cdf_svg(
    id: &str,
    label: &str,
    x_desc: &str,
    series: &[Series],
    markers: &[Marker],
) -> Result<String, ChartError> {
    let lines: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .map(|s| (s.name.clone(), thin(&s.points)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if lines.is_empty() {
        return Err(ChartError::NoData { id: id.to_owned() });
    }
    let x_max = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
        .chain(markers.iter().map(|m| m.x).filter(|x| x.is_finite()))
        .fold(0.0f64, f64::max);
    let x_max = nice_ceiling(x_max * 1.05);
    render(id, label, (CHART_WIDTH, CHART_HEIGHT), |root| {
        let mut chart = framed(root, 16, 64).build_cartesian_2d(0f64..x_max, 0f64..1.0f64)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("share of calls at or below")
            .y_label_formatter(&|v| format!("{:.0} %", v * 100.0))
            .x_label_formatter(&|v| axis_number(*v))
            .bold_line_style(GRID_BOLD)
            .light_line_style(GRID_LIGHT)
            .axis_style(AXIS)
            .label_style((FONT, 15).into_font().color(&TEXT))
            .axis_desc_style((FONT, 15).into_font().color(&TEXT))
            .draw()?;
        for (i, (name, points)) in lines.iter().enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(3)))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3))
                });
        }
        for m in markers.iter().filter(|m| m.x.is_finite()) {
            threshold_line(&mut chart, (m.x, 0.0), (m.x, 1.0), &m.label)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    })
}

/// Lines over time: x in seconds since the start of the run.
pub fn time_series_svg(
    id: &str,
    label: &str,
    y_desc: &str,
    series: &[Series],
) -> Result<String, ChartError> {
    let lines: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .map(|s| (s.name.clone(), thin(&s.points)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if lines.is_empty() {
        return Err(ChartError::NoData { id: id.to_owned() });
    }
    let all = || lines.iter().flat_map(|(_, p)| p.iter());
    let x_min = all()
        .map(|(x, _)| *x)
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let x_max = all().map(|(x, _)| *x).fold(0.0f64, f64::max);
    let x_max = if x_max > x_min { x_max } else { x_min + 1.0 };
    let y_max = nice_ceiling(all().map(|(_, y)| *y).fold(0.0f64, f64::max) * 1.1);
    // Plot in the display unit, so the axis ticks land on round minutes or hours.
    let (x_scale, x_unit) = time_unit(x_max - x_min);
    let (x_min, x_max) = (x_min / x_scale, x_max / x_scale);
    let lines: Vec<(String, Vec<(f64, f64)>)> = lines
        .into_iter()
        .map(|(n, p)| (n, p.into_iter().map(|(x, y)| (x / x_scale, y)).collect()))
        .collect();
    render(id, label, (CHART_WIDTH, CHART_HEIGHT), |root| {
        let mut chart = framed(root, 16, 64).build_cartesian_2d(x_min..x_max, 0f64..y_max)?;
        let x_fmt = |v: &f64| axis_number(*v);
        chart
            .configure_mesh()
            .x_desc(format!("time since start ({x_unit})"))
            .y_desc(y_desc)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&|v| axis_number(*v))
            .bold_line_style(GRID_BOLD)
            .light_line_style(GRID_LIGHT)
            .axis_style(AXIS)
            .label_style((FONT, 15).into_font().color(&TEXT))
            .axis_desc_style((FONT, 15).into_font().color(&TEXT))
            .draw()?;
        for (i, (name, points)) in lines.iter().enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3))
                });
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    })
}

/// Horizontal bars, one per `(category, count)`, largest first as given, with the count at the
/// end of each bar.
pub fn bars_svg(
    id: &str,
    label: &str,
    x_desc: &str,
    bars: &[(String, u64)],
) -> Result<String, ChartError> {
    if bars.is_empty() {
        return Err(ChartError::NoData { id: id.to_owned() });
    }
    let n = bars.len();
    // Top to bottom in the given order: plotters counts segments from the bottom.
    let names: Vec<&str> = bars.iter().rev().map(|(k, _)| k.as_str()).collect();
    let counts: Vec<u64> = bars.iter().rev().map(|(_, v)| *v).collect();
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let x_max = (max as f64 * 1.18).ceil() as u64 + 1;
    let longest = names.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let y_area = (longest as u32 * 9 + 24).clamp(90, 300);
    let height = (n as u32 * 44 + 90).clamp(160, 900);
    render(id, label, (CHART_WIDTH, height), |root| {
        let mut chart = framed(root, 12, y_area).build_cartesian_2d(0u64..x_max, categories(n))?;
        let y_fmt = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) => names.get(*i).map(|s| s.to_string()).unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n + 1)
            .y_label_formatter(&y_fmt)
            .x_label_formatter(&|v| v.to_string())
            .x_desc(x_desc)
            .bold_line_style(GRID_BOLD)
            .light_line_style(GRID_LIGHT)
            .axis_style(AXIS)
            .label_style((FONT, 15).into_font().color(&TEXT))
            .axis_desc_style((FONT, 15).into_font().color(&TEXT))
            .draw()?;
        chart.draw_series(
            Histogram::horizontal(&chart)
                .style(THRESHOLD.mix(0.85).filled())
                .margin(10)
                .data(counts.iter().enumerate().map(|(i, c)| (i, *c))),
        )?;
        let label_style = (FONT, 15).into_font().color(&TEXT);
        chart.draw_series(counts.iter().enumerate().map(|(i, c)| {
            EmptyElement::at((*c, SegmentValue::CenterOf(i)))
                + Text::new(
                    c.to_string(),
                    (6, 0),
                    label_style.clone().pos(Pos::new(HPos::Left, VPos::Center)),
                )
        }))?;
        Ok(())
    })
}

/// Mean opinion score per network condition: a bar for the mean, a whisker from min to max,
/// and the threshold as a red tick across the bar.
pub fn mos_svg(id: &str, label: &str, conditions: &[MosByCondition]) -> Result<String, ChartError> {
    if conditions.is_empty() {
        return Err(ChartError::NoData { id: id.to_owned() });
    }
    let n = conditions.len();
    let names: Vec<String> = conditions
        .iter()
        // The ids keep the axis short; the table under the chart spells out the conditions.
        .map(|c| c.spec_id.clone().unwrap_or_else(|| c.condition.clone()))
        .collect();
    render(id, label, (CHART_WIDTH, CHART_HEIGHT), |root| {
        let mut chart = framed(root, 16, 64).build_cartesian_2d(categories(n), 1.0f64..4.5f64)?;
        let x_fmt = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n + 1)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&|v| format!("{v:.1}"))
            .y_desc("MOS (PESQ, P.862)")
            .bold_line_style(GRID_BOLD)
            .light_line_style(GRID_LIGHT)
            .axis_style(AXIS)
            .label_style((FONT, 15).into_font().color(&TEXT))
            .axis_desc_style((FONT, 15).into_font().color(&TEXT))
            .draw()?;
        let clamp = |v: f64| {
            if v.is_finite() {
                v.clamp(1.0, 4.5)
            } else {
                1.0
            }
        };
        // Bars span the middle of each segment, as a fraction of its width in index units.
        let bar = |i: usize, y0: f64, y1: f64, style: ShapeStyle| {
            Rectangle::new(
                [
                    (SegmentValue::Exact(i), y0),
                    (SegmentValue::Exact(i + 1), y1),
                ],
                style,
            )
        };
        chart.draw_series(conditions.iter().enumerate().map(|(i, c)| {
            let mut r = bar(i, 1.0, clamp(c.mean), colour(i).mix(0.8).filled());
            r.set_margin(0, 0, 60, 60);
            r
        }))?;
        let text_style = (FONT, 15).into_font().color(&TEXT);
        for (i, c) in conditions.iter().enumerate() {
            let centre = || SegmentValue::CenterOf(i);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(centre(), clamp(c.min)), (centre(), clamp(c.max))],
                TEXT.stroke_width(2),
            )))?;
            if let Some(t) = c.threshold.filter(|t| t.is_finite()) {
                let mut r = bar(i, clamp(t) - 0.015, clamp(t) + 0.015, THRESHOLD.filled());
                r.set_margin(0, 0, 30, 30);
                chart.draw_series(std::iter::once(r))?;
            }
            let mut caption = format!("{:.2}", c.mean);
            let _ = write!(caption, "  n={}", c.calls);
            chart.draw_series(std::iter::once(Text::new(
                caption,
                (centre(), (clamp(c.max) + 0.08).min(4.4)),
                text_style.clone().pos(Pos::new(HPos::Center, VPos::Bottom)),
            )))?;
        }
        Ok(())
    })
}

/// How an hour-of-day chart draws its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HourlyStyle {
    /// Grouped bars, one per series in each hour (counts).
    Bars,
    /// Points joined across consecutive hours (means, rates).
    Lines,
}

/// A horizontal reference line on an hour-of-day chart, e.g. a threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// Legend label (`OPS-AGENT-WAIT avg<=60s`).
    pub label: String,
    /// Position on the y axis.
    pub y: f64,
}

/// Values by hour of the day: x is the hour (0–23, the `x_desc` says which clock), one series
/// per quantity as `(hour, value)` points (hours without data left out), `levels` as dashed
/// horizontal lines, and `shaded` hours (e.g. busy hours) as a band behind, labelled
/// `shaded_label`. `y_range` fixes the y axis; by default it runs from 0 to a round number
/// above the data and the levels.
#[allow(clippy::too_many_arguments)]
pub fn hour_of_day_svg(
    id: &str,
    label: &str,
    x_desc: &str,
    y_desc: &str,
    style: HourlyStyle,
    series: &[Series],
    levels: &[Level],
    shaded: (&str, &[u8]),
    y_range: Option<(f64, f64)>,
) -> Result<String, ChartError> {
    let lines: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .map(|s| {
            let mut p: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite() && (0.0..24.0).contains(x))
                .collect();
            p.sort_by(|a, b| a.0.total_cmp(&b.0));
            (s.name.clone(), p)
        })
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if lines.is_empty() {
        return Err(ChartError::NoData { id: id.to_owned() });
    }
    let (y0, y1) = match y_range {
        Some((a, b)) if a.is_finite() && b.is_finite() && b > a => (a, b),
        _ => {
            let top = lines
                .iter()
                .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
                .chain(levels.iter().map(|l| l.y).filter(|y| y.is_finite()))
                .fold(0.0f64, f64::max);
            // Headroom for the legend in the upper right, above the data.
            (0.0, nice_ceiling(top * 1.45))
        }
    };
    let n = lines.len();
    render(id, label, (CHART_WIDTH, CHART_HEIGHT), |root| {
        let mut chart = framed(root, 16, 64).build_cartesian_2d(-0.5f64..23.5f64, y0..y1)?;
        let x_fmt = |v: &f64| {
            if (v - v.round()).abs() < 1e-6 && (0.0..24.0).contains(v) {
                format!("{:02}", v.round() as i64)
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_labels(24)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&|v| axis_number(*v))
            .x_desc(x_desc)
            .y_desc(y_desc)
            .disable_x_mesh()
            .bold_line_style(GRID_BOLD)
            .light_line_style(GRID_LIGHT)
            .axis_style(AXIS)
            .label_style((FONT, 15).into_font().color(&TEXT))
            .axis_desc_style((FONT, 15).into_font().color(&TEXT))
            .draw()?;
        let (shade_label, shade_hours) = shaded;
        let band: Vec<f64> = shade_hours
            .iter()
            .filter(|h| **h < 24)
            .map(|h| f64::from(*h))
            .collect();
        if !band.is_empty() {
            chart
                .draw_series(
                    band.iter()
                        .map(|h| Rectangle::new([(h - 0.5, y0), (h + 0.5, y1)], SHADE.filled())),
                )?
                .label(shade_label)
                .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 22, y + 6)], SHADE.filled()));
        }
        for (i, (name, points)) in lines.iter().enumerate() {
            let c = colour(i);
            match style {
                HourlyStyle::Bars => {
                    let width = 0.8 / n as f64;
                    let left = |h: f64| h - 0.4 + i as f64 * width;
                    chart
                        .draw_series(points.iter().map(|&(h, v)| {
                            Rectangle::new(
                                [(left(h), y0.max(0.0)), (left(h) + width, v)],
                                c.mix(0.85).filled(),
                            )
                        }))?
                        .label(name.as_str())
                        .legend(move |(x, y)| {
                            Rectangle::new([(x, y - 6), (x + 22, y + 6)], c.mix(0.85).filled())
                        });
                }
                HourlyStyle::Lines => {
                    // Join only consecutive hours: a missing hour breaks the line.
                    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
                    for &p in points {
                        match runs.last_mut() {
                            Some(run) if run.last().is_some_and(|q| p.0 - q.0 <= 1.0) => {
                                run.push(p)
                            }
                            _ => runs.push(vec![p]),
                        }
                    }
                    chart
                        .draw_series(
                            runs.into_iter()
                                .map(|run| PathElement::new(run, c.stroke_width(2))),
                        )?
                        .label(name.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3))
                        });
                    chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
                }
            }
        }
        for l in levels.iter().filter(|l| l.y.is_finite()) {
            threshold_line(&mut chart, (-0.5, l.y), (23.5, l.y), &l.label)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}

/// A segmented axis of `n` categories (plotters' integer ranges are inclusive; a one-value range
/// has no width, so a single category gets an empty neighbour).
fn categories(
    n: usize,
) -> plotters::coord::ranged1d::SegmentedCoord<plotters::coord::types::RangedCoordusize> {
    (0usize..n.max(2) - 1).into_segmented()
}

/// Draws the legend with the report's style.
/// A threshold as a dashed line from `a` to `b`, with its entry in the legend.
fn threshold_line<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    a: (f64, f64),
    b: (f64, f64),
    label: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .draw_series(DashedLineSeries::new(
            [a, b],
            8,
            5,
            THRESHOLD.stroke_width(2),
        ))?
        .label(label)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], THRESHOLD.stroke_width(2)));
    Ok(())
}

fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    at: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(at)
        .margin(12)
        .legend_area_size(30)
        .label_font((FONT, 15).into_font().color(&TEXT))
        .background_style(WHITE.mix(0.92))
        .border_style(GRID_BOLD)
        .draw()
}

/// The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10ⁿ) at or above `v` (1 for
/// non-positive input): an axis end that wastes little room.
fn nice_ceiling(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        if m * mag >= v {
            return m * mag;
        }
    }
    10.0 * mag
}

/// An axis tick: no trailing zeros, thousands without separators.
fn axis_number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// The unit for a time axis spanning `span_s` seconds: (seconds per unit, unit name).
fn time_unit(span_s: f64) -> (f64, &'static str) {
    if span_s >= 3.0 * 3600.0 {
        (3600.0, "h")
    } else if span_s >= 3.0 * 60.0 {
        (60.0, "min")
    } else {
        (1.0, "s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_numbers() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(830.0), 1000.0);
        assert_eq!(nice_ceiling(1300.0), 1500.0);
        assert_eq!(nice_ceiling(33.0), 40.0);
        assert_eq!(nice_ceiling(2.1), 2.5);
        assert_eq!(axis_number(1500.0), "1500");
        assert_eq!(axis_number(0.25), "0.25");
    }

    #[test]
    fn thinning_keeps_the_last_point() {
        let pts: Vec<(f64, f64)> = (0..2000).map(|i| (i as f64, i as f64)).collect();
        let t = thin(&pts);
        assert!(t.len() <= MAX_POINTS + 1);
        assert_eq!(t.last(), Some(&(1999.0, 1999.0)));
    }

    #[test]
    fn one_category_charts() {
        let bars = bars_svg("chart-b", "", "calls", &[("timeout".into(), 3)]).unwrap();
        assert!(
            bars.contains(">timeout<") || bars.contains("timeout\n"),
            "{bars}"
        );
        let mos = MosByCondition {
            condition: "good".into(),
            spec_id: None,
            calls: 1,
            mean: 4.0,
            min: 4.0,
            max: 4.0,
            threshold: Some(3.8),
        };
        let svg = mos_svg("chart-m", "", &[mos]).unwrap();
        assert!(svg.contains("good"), "{svg}");
    }

    #[test]
    fn hour_of_day_charts() {
        let s = Series {
            name: "calls".into(),
            points: vec![(0.0, 12.0), (1.0, 11.0), (10.0, 12.0), (25.0, 3.0)],
        };
        let levels = [Level {
            label: "limit".into(),
            y: 20.0,
        }];
        for style in [HourlyStyle::Bars, HourlyStyle::Lines] {
            let svg = hour_of_day_svg(
                "chart-h",
                "by hour",
                "hour of day",
                "calls",
                style,
                std::slice::from_ref(&s),
                &levels,
                ("busy hours", &[10, 11]),
                None,
            )
            .unwrap();
            assert!(svg.starts_with("<svg id=\"chart-h\""), "{svg}");
            // Hour ticks 00 to 23 (plotters writes a text's content on its own line).
            assert!(svg.contains("\n00\n</text>") && svg.contains("\n23\n</text>"));
            assert!(!svg.contains("\n24\n</text>"), "{svg}");
            assert!(svg.contains("busy hours") && svg.contains("limit"));
        }
        assert!(matches!(
            hour_of_day_svg(
                "chart-e",
                "",
                "",
                "",
                HourlyStyle::Lines,
                &[],
                &[],
                ("", &[]),
                None
            ),
            Err(ChartError::NoData { .. })
        ));
    }

    #[test]
    fn svg_root_has_the_id() {
        let s = Series {
            name: "pdd".into(),
            points: vec![(10.0, 0.1), (20.0, 0.5), (40.0, 1.0)],
        };
        let svg = cdf_svg("chart-x", "a <chart>", "ms", &[s], &[]).unwrap();
        assert!(
            svg.starts_with("<svg id=\"chart-x\" class=\"chart\""),
            "{svg}"
        );
        assert!(svg.contains("aria-label=\"a &lt;chart&gt;\""));
        assert!(matches!(
            cdf_svg("chart-y", "", "ms", &[], &[]),
            Err(ChartError::NoData { .. })
        ));
    }
}
