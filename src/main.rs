//! The command line: argument parsing and exit status only; everything
//! else is the library's.

use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use initaudit::audit::{self, File, embedded};
use initaudit::gain;
use initaudit::report::{self, Format};
use initaudit::verdict::{Settings, Verdict};
use initaudit::{init, meanfield};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Checks the mathematics behind neural-network weight initialization.
///
/// With no command, audits every file in derivations/: the folder in the
/// current directory if there is one, else the copy built into the binary.
#[derive(Parser)]
#[command(name = "initaudit", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    opts: Opts,
    #[command(flatten)]
    view: View,
}

/// How the audit's tables are laid out (audit only; `check` takes
/// `--digits`).
#[derive(Args, Clone, Copy, Default)]
struct View {
    /// Significant digits of the numbers (1 to 17; default 7). Two sides
    /// that do not hold are shown to the digit where they differ.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=17))]
    digits: Option<u8>,
    /// Full tables, every requirement in its own column, however wide
    /// (default: within 100 columns, requirements below the table).
    #[arg(long)]
    wide: bool,
}

impl View {
    /// This view, or where it says nothing, `outer` (the flags given
    /// before the subcommand).
    fn or(self, outer: View) -> View {
        View {
            digits: self.digits.or(outer.digits),
            wide: self.wide || outer.wide,
        }
    }

    fn given(self) -> bool {
        self.digits.is_some() || self.wide
    }

    fn layout(self) -> report::Layout {
        report::Layout {
            digits: self.digits.map_or(report::DIGITS, usize::from),
            wide: self.wide,
        }
    }
}

/// `check --expect`: the verdict a script expects.
#[derive(Clone, Copy, ValueEnum)]
enum VerdictArg {
    Holds,
    Fails,
    Undefined,
    Inconclusive,
}

impl From<VerdictArg> for Verdict {
    fn from(v: VerdictArg) -> Verdict {
        match v {
            VerdictArg::Holds => Verdict::Holds,
            VerdictArg::Fails => Verdict::Fails,
            VerdictArg::Undefined => Verdict::Undefined,
            VerdictArg::Inconclusive => Verdict::Inconclusive,
        }
    }
}

#[derive(Args)]
struct Opts {
    /// Output format.
    #[arg(long, value_enum, default_value = "table", global = true)]
    format: FormatArg,
    /// Seed of every sampled stream.
    #[arg(long, default_value_t = 0, global = true)]
    seed: u64,
    /// Smallest relative deviation a sampled "holds" must exclude, e.g. 0.5%.
    #[arg(long, default_value = "0.5%", global = true, value_parser = parse_resolution)]
    resolution: f64,
    /// Most draws one sampled test may take.
    #[arg(long, default_value_t = 1 << 26, global = true)]
    max_samples: u64,
    /// CPU-seconds of one core the run may spend (300, 90s, 10m, 1h); work
    /// is estimated before it is done and refused over it.
    #[arg(long, default_value = "300", global = true, value_parser = initaudit::work::parse_budget)]
    budget: f64,
    /// Worker threads (default: one per core). Output does not depend on it.
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// No progress bar and no notes on stderr (which files are read, what a
    /// network costs); errors are still printed.
    #[arg(long, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Audit claim files (default: derivations/, else the built-in copy).
    Audit {
        /// Files, or folders of .toml files.
        paths: Vec<PathBuf>,
        #[command(flatten)]
        view: View,
    },
    /// Check one claim, e.g. 'E[relu(y)^2] = Var[y]/2' --given 'y ~ Laplace(0, 1)'.
    Check {
        claim: String,
        /// Model statements separated by `;` or newlines.
        #[arg(long, default_value = "")]
        given: String,
        /// Requirements to decide, e.g. 'symmetric(y)' (repeatable).
        #[arg(long)]
        requires: Vec<String>,
        /// A function definition, e.g. 'swish2(x) = x * sigmoid(2*x)' (repeatable).
        #[arg(long)]
        define: Vec<String>,
        /// The band of an approximate claim (`~=`): 2% or 0.01.
        #[arg(long)]
        within: Option<String>,
        /// Exit 0 iff the verdict is this one (default: exit 0 iff the claim holds).
        #[arg(long, value_enum)]
        expect: Option<VerdictArg>,
        /// Significant digits of the numbers (1 to 17; default 7).
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=17))]
        digits: Option<u8>,
    },
    /// The gains an activation needs, its mean-field fixed point and chi_1,
    /// beside PyTorch's gain, e.g. `gain tanh` or `gain 'leaky_relu(x, 0.2)'`.
    Gain {
        /// A built-in activation, a defined function, or an expression in x.
        activation: String,
        /// Variance of the pre-activation fed to the layer.
        #[arg(long, default_value_t = 1.0)]
        q: f64,
        /// Variance of the biases, sigma_b^2.
        #[arg(long, default_value_t = 0.0)]
        bias_var: f64,
        /// Layers over which the per-layer factors are compounded.
        #[arg(long, default_value_t = 30)]
        depth: u32,
        #[command(flatten)]
        fns: FunctionArgs,
    },
    /// Everything about one claim, derivation or step (e.g. `he.forward#3`):
    /// requirements and how each was decided, both sides, the verdict.
    Explain {
        id: String,
        /// Files, or folders of .toml files (default: derivations/, else the built-in copy).
        paths: Vec<PathBuf>,
    },
    /// One layer's initialization recipe in a framework's layout, e.g.
    /// `init kaiming_uniform --shape 64,3,3,3 --act relu`.
    Init(InitArgs),
    /// Mean-field theory of an activation: q*, c*, chi_1, chi_c, xi_q, xi_c,
    /// the phase, and with no --sigma-w the edge of chaos.
    Meanfield {
        /// Activations (the first is analysed; all go into --plot).
        #[arg(required = true)]
        activations: Vec<String>,
        /// Weight scale sigma_w (weights N(0, sigma_w^2/N)); none: the edge of chaos.
        #[arg(long)]
        sigma_w: Option<f64>,
        /// Variance of the biases, sigma_b^2.
        #[arg(long, default_value_t = 0.0)]
        bias_var: f64,
        /// Draw the (sigma_w^2, sigma_b^2) phase diagram into this svg file.
        #[arg(long)]
        plot: Option<PathBuf>,
        #[command(flatten)]
        fns: FunctionArgs,
    },
    /// Simulate networks ([network.NAME] tables) and print their per-layer statistics.
    Net {
        /// Network names; several go into one plot.
        #[arg(required = true)]
        names: Vec<String>,
        /// Draw the statistics against depth into this svg file.
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Statistics to plot, comma-separated, e.g. 'Var[y],Var[dx]'
        /// (default: E[x^2], Var[y], Var[dx], Var[dy], E[dW^2]).
        #[arg(long, value_delimiter = ',')]
        series: Vec<String>,
        /// Files or folders to look for the networks in (default:
        /// derivations/, else the built-in copy).
        #[arg(long = "in")]
        paths: Vec<PathBuf>,
        /// Add the Jacobian's statistics (E[s2], Var[s2], max(s2), min(s2))
        /// at every layer; --plot then draws the last layer's spectrum.
        #[arg(long)]
        jacobian: bool,
    },
}

/// `--format`: the library's [`Format`], named for the command line here
/// so that the library does not depend on clap.
#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Table,
    Markdown,
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Json => Format::Json,
        }
    }
}

#[derive(Args)]
struct InitArgs {
    #[arg(value_parser = choice(init::Scheme::ALL, init::Scheme::name))]
    scheme: init::Scheme,
    /// The weight's shape in the framework's layout (PyTorch out,in,k...; JAX k...,in,out).
    #[arg(long, value_delimiter = ',', required = true)]
    shape: Vec<u64>,
    #[arg(long, default_value = "torch", value_parser = choice(init::Framework::ALL, init::Framework::name))]
    framework: init::Framework,
    /// PyTorch ConvTranspose layout (in, out/groups, k...).
    #[arg(long)]
    transposed: bool,
    /// The activation the gain is computed for and the layer analysed under.
    #[arg(long)]
    act: Option<String>,
    #[arg(long)]
    gain: Option<f64>,
    /// How --act gives the gain: forward 1/sqrt(E[f(z)^2]), backward
    /// 1/sqrt(E[f'(z)^2]), pytorch (its calculate_gain table); default:
    /// forward, backward for fan_out.
    #[arg(long, value_parser = choice(init::GainRule::ALL, init::GainRule::name))]
    gain_rule: Option<init::GainRule>,
    #[arg(long, value_parser = choice(init::Mode::ALL, init::Mode::name))]
    mode: Option<init::Mode>,
    #[arg(long, value_parser = choice(init::Distribution::ALL, init::Distribution::name))]
    distribution: Option<init::Distribution>,
    /// JAX's scale (variance_scaling, orthogonal).
    #[arg(long)]
    scale: Option<f64>,
    /// Layers of this shape the per-layer factors are compounded over.
    #[arg(long, default_value_t = 30)]
    depth: u32,
    #[command(flatten)]
    fns: FunctionArgs,
}

/// The functions an activation may use beyond the built-ins, shared by
/// `gain`, `meanfield` and `init`.
#[derive(Args)]
struct FunctionArgs {
    /// A function definition, e.g. 'swish2(x) = x * sigmoid(2*x)' (repeatable).
    #[arg(long)]
    define: Vec<String>,
    /// A .toml file whose [functions] may be used (repeatable).
    #[arg(long)]
    functions: Vec<PathBuf>,
}

/// A value named by one of the library's own names, offered as clap's
/// possible values, so that the library's enums need no clap derive.
fn choice<T: Copy + Send + Sync + 'static>(
    all: &'static [T],
    name: fn(T) -> &'static str,
) -> impl TypedValueParser<Value = T> {
    clap::builder::PossibleValuesParser::new(all.iter().map(|&t| name(t))).map(move |s| {
        all.iter()
            .copied()
            .find(|&t| name(t) == s)
            .expect("clap admits only the listed names")
    })
}

fn parse_resolution(s: &str) -> Result<f64, String> {
    let (num, scale) = match s.trim().strip_suffix('%') {
        Some(n) => (n, 0.01),
        None => (s.trim(), 1.0),
    };
    match num.trim().parse::<f64>() {
        Ok(x) if x * scale > 0.0 && x * scale < 1.0 => Ok(x * scale),
        _ => Err(format!(
            "`{s}` is not a resolution: give a percentage such as 0.5% or a fraction such as 0.005"
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    initaudit::progress::init(cli.opts.quiet);
    if let Some(n) = cli.opts.threads
        && let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
    {
        eprintln!("error: cannot start {n} threads: {e}");
        return ExitCode::from(2);
    }
    let settings = Settings {
        seed: cli.opts.seed,
        resolution: cli.opts.resolution,
        max_samples: cli.opts.max_samples,
        budget: cli.opts.budget,
    };
    let audited = matches!(cli.command, None | Some(Command::Audit { .. }));
    if cli.view.given() && !audited {
        eprintln!(
            "error: --digits and --wide before a command apply to the audit only\n  \
             = help: `initaudit --wide`, `initaudit audit --wide PATH`, `initaudit check CLAIM --digits 9`"
        );
        return ExitCode::from(2);
    }
    let mut view = cli.view;
    let refused = |view: View| -> Option<ExitCode> {
        let format = cli.opts.format;
        let why = match (view.digits, view.wide, format) {
            (Some(_), _, FormatArg::Json) => "--digits: json carries every digit of every number",
            (_, true, FormatArg::Json | FormatArg::Markdown) => {
                "--wide: markdown and json always have every column"
            }
            _ => return None,
        };
        eprintln!(
            "error: {why}\n  = help: it applies to --format table (and --digits to markdown)"
        );
        Some(ExitCode::from(2))
    };
    let files: Result<Vec<File>, String> = match cli.command {
        None => {
            if let Some(code) = refused(view) {
                return code;
            }
            load_default("auditing")
        }
        Some(Command::Audit { paths, view: inner }) => {
            view = inner.or(cli.view);
            if let Some(code) = refused(view) {
                return code;
            }
            if paths.is_empty() {
                load_default("auditing")
            } else {
                load_all(&paths, "auditing")
            }
        }
        Some(Command::Net {
            names,
            plot,
            series,
            paths,
            jacobian,
        }) => {
            let files = if paths.is_empty() {
                load_default("reading")
            } else {
                load_all(&paths, "reading")
            };
            return match files.and_then(|files| {
                let found: Vec<_> = files.iter().map(File::network_file).collect();
                initaudit::net::command(
                    &found,
                    &names,
                    plot.as_deref(),
                    &series,
                    initaudit::net::Run {
                        seed: settings.seed,
                        budget: settings.budget,
                        format: cli.opts.format.into(),
                        jacobian,
                    },
                    &mut |s| initaudit::progress::note(s),
                )
            }) {
                Ok(out) => {
                    print!("{out}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprint!("{e}");
                    ExitCode::from(2)
                }
            };
        }
        Some(Command::Init(a)) => {
            let request = init::Request {
                scheme: a.scheme,
                framework: a.framework,
                shape: a.shape,
                transposed: a.transposed,
                act: a.act,
                defines: a.fns.define,
                functions: a.fns.functions,
                gain: a.gain,
                gain_rule: a.gain_rule,
                mode: a.mode,
                distribution: a.distribution,
                scale: a.scale,
                depth: a.depth,
            };
            return finish(init::recipe(&request, &settings).map(|r| {
                (
                    init::render(&r, cli.opts.format.into(), settings.seed),
                    !r.check.passed(),
                )
            }));
        }
        Some(Command::Meanfield {
            activations,
            sigma_w,
            bias_var,
            plot,
            fns,
        }) => {
            let options = meanfield::Options { sigma_w, bias_var };
            return finish(
                meanfield::command(
                    &activations,
                    &fns.define,
                    &fns.functions,
                    &options,
                    plot.as_deref(),
                    &settings,
                )
                .map(|a| {
                    (
                        meanfield::render(&a, cli.opts.format.into(), settings.seed),
                        a.has_defect(),
                    )
                }),
            );
        }
        Some(Command::Explain { id, paths }) => {
            return explain(&id, &paths, &settings, cli.opts.format.into());
        }
        Some(Command::Check {
            claim,
            given,
            requires,
            define,
            within,
            expect,
            digits,
        }) => {
            let view = View {
                digits,
                wide: false,
            };
            if let Some(code) = refused(view) {
                return code;
            }
            return match audit::adhoc(&claim, &given, &requires, &define, within.as_deref())
                .and_then(|f| audit::run(&[f], &settings))
            {
                Ok(report) => {
                    let format = cli.opts.format.into();
                    print!("{}", report::answer(&report, format, view.layout()));
                    check_status(&report, expect.map(Verdict::from))
                }
                Err(e) => {
                    eprint!("{}", e.render());
                    ExitCode::from(2)
                }
            };
        }
        Some(Command::Gain {
            activation,
            q,
            bias_var,
            depth,
            fns,
        }) => {
            let options = gain::Options { q, bias_var, depth };
            return match gain::Activation::resolve(&activation, &fns.define, &fns.functions)
                .and_then(|a| gain::analyse(&a, &options, &settings))
            {
                Ok(analysis) => {
                    print!("{}", gain::render(&analysis, cli.opts.format.into()));
                    if analysis.has_defect() {
                        ExitCode::from(1)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    eprint!("{}", e.render());
                    ExitCode::from(2)
                }
            };
        }
    };
    let files = match files {
        Ok(f) => f,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    match audit::run(&files, &settings) {
        Ok(report) => {
            let format = cli.opts.format.into();
            print!("{}", report::render_with(&report, format, view.layout()));
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprint!("{}", e.render());
            ExitCode::from(2)
        }
    }
}

/// `check`'s exit status: 0 when the claim holds (or, with `--expect`, has
/// the verdict expected) and no engine disagreed, else 1, saying why on
/// stderr when a verdict was expected.
fn check_status(report: &initaudit::outcome::Report, expect: Option<Verdict>) -> ExitCode {
    let rows: Vec<_> = report.checked().flat_map(|(_, c)| &c.rows).collect();
    let defect = rows.iter().any(|r| !r.evaluation.defects.is_empty());
    let wanted = expect.unwrap_or(Verdict::Holds);
    let got: Vec<Verdict> = rows.iter().map(|r| r.evaluation.verdict).collect();
    if got.iter().all(|&v| v == wanted) && !defect {
        return ExitCode::SUCCESS;
    }
    if expect.is_some() {
        let said: Vec<&str> = got
            .iter()
            .map(|v| match v {
                Verdict::Holds => "holds",
                Verdict::Fails => "fails",
                Verdict::Undefined => "is undefined",
                Verdict::Inconclusive => "is inconclusive",
            })
            .collect();
        if defect {
            eprintln!("initaudit: the exact and the sampled engine disagree (a DEFECT, above)");
        } else {
            eprintln!(
                "initaudit: expected `{}`, but the claim {}",
                wanted.name(),
                said.join(", ")
            );
        }
    }
    ExitCode::from(1)
}

/// Prints a command's output; exit 1 on a defect, 2 on bad input.
fn finish(result: Result<(String, bool), initaudit::diag::InputError>) -> ExitCode {
    match result {
        Ok((out, defect)) => {
            print!("{out}");
            ExitCode::from(u8::from(defect))
        }
        Err(e) => {
            eprint!("{}", e.render());
            ExitCode::from(2)
        }
    }
}

/// The claims when no path is given: `derivations/` here, else the copy
/// built into the binary; a line on stderr says which (stdout stays the
/// report, the same bytes either way).
fn load_default(verb: &str) -> Result<Vec<File>, String> {
    let local = Path::new(embedded::FOLDER);
    let files = load_all(&[local.to_path_buf()], verb)?;
    if local.exists() {
        let n = files.len();
        let s = if n == 1 { "" } else { "s" };
        initaudit::progress::note(&format!("{verb} {}/ ({n} file{s})\n", embedded::FOLDER));
    }
    Ok(files)
}

/// A claim file: on disk, or the built-in copy (name, text).
enum Source {
    Disk(PathBuf),
    BuiltIn(&'static str, &'static str),
}

/// Loads the files under the paths. With no `derivations/` here, a path
/// `derivations` or `derivations/NAME.toml` is the built-in copy, said on
/// stderr; a local folder always takes precedence.
fn load_all(paths: &[PathBuf], verb: &str) -> Result<Vec<File>, String> {
    // Every path is found before any file is loaded, as before there was a
    // built-in copy: a missing path is reported ahead of a file's errors.
    let mut found = Vec::new();
    for p in paths {
        if !Path::new(embedded::FOLDER).exists()
            && let Some(builtin) = embedded::named(p)
        {
            let what = if builtin.len() == embedded::FILES.len() {
                format!("derivations ({} files; ", builtin.len())
            } else {
                format!("{} (", p.display())
            };
            initaudit::progress::note(&format!(
                "{verb} the built-in {what}no {}/ here)\n",
                embedded::FOLDER
            ));
            found.extend(builtin.into_iter().map(|(n, t)| Source::BuiltIn(n, t)));
            continue;
        }
        let on_disk = audit::collect_files(std::slice::from_ref(p)).map_err(|e| {
            let shipped: Vec<&str> = embedded::FILES.iter().map(|(n, _)| *n).collect();
            if !Path::new(embedded::FOLDER).exists() && p.starts_with(embedded::FOLDER) {
                format!("error: {e}\n  = help: built in: {}\n", shipped.join(", "))
            } else {
                format!("error: {e}\n")
            }
        })?;
        found.extend(on_disk.into_iter().map(Source::Disk));
    }
    if found.is_empty() {
        return Err("error: no .toml files found\n".to_string());
    }
    // Every file is loaded, and the errors of all of them reported at once.
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for f in &found {
        match f {
            Source::Disk(path) => audit::load_path(path),
            Source::BuiltIn(name, text) => embedded::load_builtin(name, text),
        }
        .map_or_else(|e| errors.push(e), |file| files.push(file));
    }
    match initaudit::diag::InputError::all(errors) {
        Some(e) => Err(e.render()),
        None => Ok(files),
    }
}

/// `initaudit explain ID`: the whole run is planned, so the test budget and
/// every verdict are those of the full audit, but only the claim is evaluated.
fn explain(id: &str, paths: &[PathBuf], settings: &Settings, format: Format) -> ExitCode {
    let files = if paths.is_empty() {
        load_default("reading")
    } else {
        load_all(paths, "reading")
    };
    let files = match files {
        Ok(f) => f,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    let base = id.split('#').next().unwrap_or(id);
    let report = match audit::run_selected(&files, settings, &|c: &str| {
        c == base || c.split('#').next() == Some(base)
    }) {
        Ok(r) => r,
        Err(e) => {
            eprint!("{}", e.render());
            return ExitCode::from(2);
        }
    };
    match report::explain(&report, id, format) {
        Some(text) => {
            print!("{text}");
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        None => {
            let mut ids: Vec<&str> = files
                .iter()
                .flat_map(|f| {
                    f.items
                        .iter()
                        .map(|i| i.id())
                        .chain(f.series.iter().map(|s| s.id.as_str()))
                })
                .collect();
            let close: Vec<&str> = ids
                .iter()
                .copied()
                .filter(|i| i.contains(base) || base.contains(*i))
                .collect();
            if !close.is_empty() {
                ids = close;
            }
            eprintln!(
                "error: no claim, derivation or step `{id}`\n  = help: ids: {}",
                ids.join(", ")
            );
            ExitCode::from(2)
        }
    }
}
