//! The pictures of a finished training run: its learning curves (loss per step, accuracies
//! per evaluation) and its HTML report.

use super::{html, plot};
use crate::data::Split;
use crate::error::Result;
use crate::float::Float;
use crate::io::safetensors::ModelInfo;
use crate::nets::Network;
use crate::train::{EpochRecord, Summary};

/// The run's learning curves: the training loss per step (raw, pale, and smoothed by the
/// book's `smooth_curve`) on an axis from 0 with the chance-level loss `ln classes` marked,
/// and the train and test accuracies per evaluation on whole-number epoch ticks. The title
/// names the model, the dataset and its training samples.
pub fn learning_curves(summary: &Summary, model: &str, data: &Split) -> plot::Figure {
    let train = &data.train;
    let loss = plot::Series::from_values("loss (raw, per step)", &summary.losses)
        .train()
        .faint();
    let smoothed = plot::smooth_curve(&summary.losses);
    let chance = plot::Reference::chance_loss(train.num_classes());
    // The axis fits the smoothed curve and the chance line; raw spikes above are cut off
    // at the top rather than squeezing the curve flat.
    let top = smoothed
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(chance.y, f64::max)
        * 1.08;
    let smooth = plot::Series::from_values("loss (smoothed)", &smoothed).train();
    let epochs = |f: fn(&EpochRecord) -> f64| -> Vec<(f64, f64)> {
        summary
            .history
            .iter()
            .map(|r| (r.epoch as f64, f(r)))
            .collect()
    };
    plot::Figure {
        title: format!(
            "{model} on {} ({} training samples, {} test samples)",
            train.name,
            train.len(),
            data.test.len()
        ),
        panels: vec![
            plot::Panel {
                title: "training loss".into(),
                x_label: "iterations".into(),
                y_label: "loss".into(),
                y_range: Some((0.0, top)),
                references: vec![chance],
                series: vec![loss, smooth],
                ..Default::default()
            },
            plot::Panel {
                title: "accuracy".into(),
                x_label: "epochs".into(),
                y_label: "accuracy".into(),
                y_range: Some((0.0, 1.0)),
                x_integer: true,
                series: vec![
                    plot::Series::from_points("train", epochs(|r| r.train_acc)).train(),
                    plot::Series::from_points("test", epochs(|r| r.test_acc)).test(),
                ],
                ..Default::default()
            },
        ],
        columns: 2,
        panel_size: (640, 480),
    }
}

/// The HTML report's content: configuration, curves, confusion matrix, misclassified test
/// images and the first layer's weights.
pub fn report<F: Float>(
    net: &mut Network<F>,
    data: &Split,
    summary: &Summary,
    info: &ModelInfo,
) -> Result<html::Report> {
    let arch = &info.arch;
    let test = &data.test;
    let evaluation = crate::eval::evaluate(net, test, arch.layout(), 100, 24);
    let [_, h, w] = test.image_shape;
    let misclassified = evaluation
        .misclassified
        .iter()
        .map(|&(i, label, pred)| html::Tile {
            values: test.image(i).iter().map(|&p| p as f32).collect(),
            width: w,
            height: h,
            caption: format!(
                "#{i}: {} → {}",
                test.class_names[label], test.class_names[pred]
            ),
        })
        .collect();
    // The first layer's weights: conv filters (channel 0), or Affine columns as images.
    let mut first_layer = Vec::new();
    if let Some(p) = net.params().first() {
        let shape = p.value.shape().to_vec();
        let values: Vec<f32> = p.value.iter().map(|v| v.to_f64_lossy() as f32).collect();
        match shape.as_slice() {
            [fnum, c, fh, fw] => {
                let (fnum, c, fh, fw) = (*fnum, *c, *fh, *fw);
                for f in 0..fnum.min(64) {
                    let start = f * c * fh * fw;
                    first_layer.push(html::Tile {
                        values: values[start..start + fh * fw].to_vec(),
                        width: fw,
                        height: fh,
                        caption: format!("filter {}", f + 1),
                    });
                }
            }
            [inputs, units] if *inputs == h * w * test.image_shape[0] => {
                let units = *units;
                for u in 0..units.min(64) {
                    first_layer.push(html::Tile {
                        values: (0..h * w).map(|i| values[i * units + u]).collect(),
                        width: w,
                        height: h,
                        caption: format!("unit {}", u + 1),
                    });
                }
            }
            _ => {}
        }
    }
    // Each curve full width, titled with the run's model and data.
    let curves = learning_curves(summary, arch.name(), data);
    let mut charts = Vec::new();
    for mut panel in curves.panels {
        let title = panel.title.clone();
        panel.title = format!("{}: {}", curves.title, panel.title);
        let figure = plot::Figure::single(panel);
        charts.push((title, plot::to_svg(&figure)?));
    }
    let mut config = vec![(
        "dataset".to_string(),
        format!(
            "{} ({} training / {} test samples)",
            info.dataset,
            data.train.len(),
            test.len()
        ),
    )];
    config.extend(html::config_rows("model", &arch.to_json()));
    // The run's settings, without what the rows above already say.
    let mut run = info.train_config.clone();
    if let Some(map) = run.as_object_mut() {
        map.remove("arch");
        if let Some(d) = map.get_mut("data").and_then(|d| d.as_object_mut()) {
            d.remove("dataset");
        }
    }
    config.extend(html::config_rows("", &run));
    config.push(("steps".to_string(), summary.iters.to_string()));
    config.push((
        "final train accuracy".to_string(),
        format!("{:.4}", summary.train_acc),
    ));
    config.push((
        "final test accuracy".to_string(),
        format!("{:.4}", summary.test_acc),
    ));
    if summary.interrupted {
        config.push(("note".to_string(), "interrupted before the end".to_string()));
    }
    let warning = evaluation.failure().map(|f| {
        format!(
            "{}. {}.",
            f.describe(&test.class_names),
            crate::eval::Failure::SUGGESTIONS
        )
    });
    Ok(html::Report {
        title: format!("backprop: {} on {}", arch.name(), info.dataset),
        config,
        warning,
        charts,
        history: summary.history.clone(),
        class_names: test.class_names.clone(),
        confusion: evaluation.confusion,
        misclassified,
        first_layer,
    })
}
