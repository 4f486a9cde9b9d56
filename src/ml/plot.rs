//! A predicted-vs-actual scatter plot as a standalone SVG document, written
//! by hand (axes, ticks, the y = x line, a title with R²).

use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 520.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
/// Beyond this many points the plot draws an evenly spaced subset: the SVG of
/// a 40,000-row test set would be megabytes and no more readable.
const MAX_POINTS: usize = 5000;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// "Nice" tick positions (1, 2, 5 × 10^k steps) covering [lo, hi].
pub fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(hi > lo) || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

fn label(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e-3..1e6).contains(&a) {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.1e}")
    }
}

/// The SVG of `actual` (x axis) against `predicted` (y axis). Both axes share
/// one range so that the y = x line is the diagonal of perfect predictions.
pub fn scatter_svg(title: &str, target: &str, actual: &[f64], predicted: &[f64], r2: f64) -> String {
    let points: Vec<(f64, f64)> =
        actual.iter().zip(predicted).map(|(a, p)| (*a, *p)).filter(|(a, p)| a.is_finite() && p.is_finite()).collect();
    let (mut lo, mut hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (a, p)| {
        (lo.min(*a).min(*p), hi.max(*a).max(*p))
    });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi <= lo {
        (lo, hi) = (lo - 1.0, hi + 1.0);
    }
    let pad = (hi - lo) * 0.04;
    let (lo, hi) = (lo - pad, hi + pad);
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let sx = |v: f64| LEFT + (v - lo) / (hi - lo) * pw;
    let sy = |v: f64| TOP + ph - (v - lo) / (hi - lo) * ph;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="28" text-anchor="middle" font-size="16">{} (R² = {:.4}, n = {})</text>"#,
        W / 2.0,
        escape(title),
        r2,
        points.len()
    );
    let _ = writeln!(s, r##"<g stroke="#ddd">"##);
    let ts = ticks(lo, hi, 6);
    for t in &ts {
        let _ = writeln!(s, r#"<line x1="{:.1}" y1="{TOP}" x2="{:.1}" y2="{:.1}"/>"#, sx(*t), sx(*t), TOP + ph);
        let _ = writeln!(s, r#"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/>"#, sy(*t), LEFT + pw, sy(*t));
    }
    let _ = writeln!(s, "</g>");
    let _ = writeln!(s, r#"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#);
    for t in &ts {
        let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#, sx(*t), TOP + ph + 18.0, label(*t));
        let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#, LEFT - 6.0, sy(*t) + 4.0, label(*t));
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">actual {}</text>"#,
        LEFT + pw / 2.0,
        H - 15.0,
        escape(target)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(20 {:.1}) rotate(-90)" text-anchor="middle">predicted {}</text>"#,
        TOP + ph / 2.0,
        escape(target)
    );
    let _ = writeln!(
        s,
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#d62728" stroke-dasharray="6 4"/>"##,
        sx(lo),
        sy(lo),
        sx(hi),
        sy(hi)
    );
    let every = points.len().div_ceil(MAX_POINTS).max(1);
    let _ = writeln!(s, r##"<g fill="#1f77b4" fill-opacity="0.5">"##);
    for (a, p) in points.iter().step_by(every) {
        let _ = writeln!(s, r#"<circle cx="{:.1}" cy="{:.1}" r="2.5"/>"#, sx(*a), sy(*p));
    }
    let _ = writeln!(s, "</g>\n</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice() {
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(-0.3, 0.35, 6), vec![-0.2, 0.0, 0.2]);
    }

    #[test]
    fn svg_has_points_line_and_title() {
        let svg = scatter_svg("a<b", "kj", &[1.0, 2.0, 3.0], &[1.1, 1.9, f64::NAN], 0.987654);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 2, "non-finite points are skipped");
        assert!(svg.contains("a&lt;b (R² = 0.9877, n = 2)"));
        assert!(svg.contains("stroke-dasharray"));
        assert!(svg.contains("actual kj") && svg.contains("predicted kj"));
    }

    #[test]
    fn svg_snapshot() {
        let svg = scatter_svg("energy_model", "kilojoules", &[100.0, 250.0, 400.0, 900.0], &[120.0, 240.0, 430.0, 850.0], 0.98);
        insta::assert_snapshot!(svg);
    }
}
