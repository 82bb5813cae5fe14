//! `oxidesk dev seed`: fill a new database with generated, realistic tickets
//! for benchmarks and demos. Deterministic for a given `--seed` (timestamps
//! are relative to `--now`, which defaults to the current time), streamed in
//! batches so memory stays flat at any size.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use super::Context;
use crate::model::{CustomerId, EntryId, Source, StaffId, Status, TicketId};
use crate::store::seed::{NewAttachment, NewDepartment, NewEntry, NewStaff, NewTicket, Seeder};
use crate::tickets::events::{Actor, TicketEvent};

mod synth;
use synth::{Lang, Voice};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Fill a new database with generated tickets, threads and customers.
    Seed(SeedArgs),
}

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// How many tickets to create.
    #[arg(long)]
    pub tickets: u64,
    /// Average number of thread entries per ticket.
    #[arg(long, default_value_t = 5.0)]
    pub messages_per_ticket: f64,
    /// How many customers (default: one per three tickets).
    #[arg(long)]
    pub customers: Option<u64>,
    /// How many staff members.
    #[arg(long, default_value_t = 20)]
    pub staff: u32,
    /// How many departments.
    #[arg(long, default_value_t = 5)]
    pub departments: u32,
    /// Random seed: the same seed gives the same data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The moment the data ends at, in Unix seconds (default: now); tickets
    /// spread over the three years before it.
    #[arg(long)]
    pub now: Option<i64>,
    /// Rows per transaction.
    #[arg(long, default_value_t = 20_000)]
    pub batch: u64,
}

pub fn run(ctx: &Context, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Seed(args) => seed(ctx, args),
    }
}

const DEPARTMENT_NAMES: &[&str] = &[
    "Support",
    "Billing",
    "Sales",
    "Technical",
    "Abuse",
    "Domains",
    "Migrations",
    "Security",
];
const YEAR: i64 = 365 * 24 * 3600;
const DAY: i64 = 24 * 3600;
/// Distinct attachment contents; attachments reuse them (deduplicated blobs).
const BLOBS: usize = 24;

struct StaffMember {
    id: i64,
    name: String,
}

fn seed(ctx: &Context, args: SeedArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.tickets > 0, "--tickets must be at least 1");
    anyhow::ensure!(
        args.messages_per_ticket >= 1.0,
        "--messages-per-ticket must be at least 1"
    );
    anyhow::ensure!(args.staff > 0, "--staff must be at least 1");
    anyhow::ensure!(args.departments > 0, "--departments must be at least 1");
    anyhow::ensure!(
        args.tickets < 90_000_000,
        "at most 89,999,999 tickets can be seeded"
    );
    let started = Instant::now();
    let path = ctx.config.database.path.clone();
    // Create the file and apply migrations the normal way first.
    drop(ctx.open_store().context("opening the database")?);
    let mut db =
        Seeder::open(&path).with_context(|| format!("preparing {} for seeding", path.display()))?;
    let now = args.now.unwrap_or_else(crate::store::now);
    let start = now - 3 * YEAR;
    let mut rng = StdRng::seed_from_u64(args.seed);

    db.begin()?;
    // Departments, help topics, staff.
    let mut departments = Vec::new();
    for d in 0..args.departments as usize {
        let name = match DEPARTMENT_NAMES.get(d) {
            Some(n) => (*n).to_string(),
            None => format!("Department {}", d + 1),
        };
        let email = format!("{}@helpdesk.example", name.to_lowercase().replace(' ', "-"));
        let id = db.department(
            &NewDepartment {
                name: &name,
                email: &email,
            },
            start - DAY,
        )?;
        let topic = db.help_topic(&format!("{name} question"), id, start - DAY)?;
        departments.push((id, topic));
    }
    let mut staff = Vec::new();
    let mut dept_staff: Vec<Vec<usize>> = vec![Vec::new(); departments.len()];
    for s in 0..args.staff as usize {
        let lang = if rng.gen_bool(0.8) {
            Lang::English
        } else {
            Lang::pick(&mut rng)
        };
        let (name, local) = synth::person_name(&mut rng, lang);
        let email = format!("{local}.{s}@helpdesk.example");
        // "!" matches no password: seeded staff cannot log in.
        let id = db.staff(&NewStaff {
            email: &email,
            name: &name,
            password_hash: "!seeded",
            is_admin: s == 0,
            created_at: start - DAY,
        })?;
        let home = s % departments.len();
        db.staff_department(id, departments[home].0, "agent")?;
        dept_staff[home].push(s);
        if departments.len() > 1 && rng.gen_bool(0.3) {
            let other = (home + 1 + rng.gen_range(0..departments.len() - 1)) % departments.len();
            db.staff_department(id, departments[other].0, "agent")?;
            dept_staff[other].push(s);
        }
        staff.push(StaffMember { id, name });
    }
    let mut blobs = Vec::new();
    for b in 0..BLOBS {
        let (filename, mime) = synth::ATTACHMENT_KINDS[b % synth::ATTACHMENT_KINDS.len()];
        let data = synth::blob_content(args.seed, b, mime);
        let sha = hex::encode(Sha256::digest(&data));
        let id = db.blob(&sha, &data)?;
        blobs.push((id, filename, mime, data.len() as i64));
    }
    db.commit()?;

    // Customers, derived from their index (nothing kept in memory).
    let customers = args.customers.unwrap_or((args.tickets / 3).max(1)).max(1);
    let mut first_customer_id = 0;
    db.begin()?;
    for idx in 0..customers {
        let p = synth::customer(args.seed, idx);
        let created = start - rng.gen_range(0..YEAR);
        let id = db.customer(&p.name, created)?;
        if idx == 0 {
            first_customer_id = id;
        }
        for (i, email) in p.emails.iter().enumerate() {
            db.identity(id, email, i == 0, created)?;
        }
        if (idx + 1) % args.batch.max(1) == 0 {
            db.commit()?;
            db.begin()?;
        }
    }
    db.commit()?;
    eprintln!(
        "seeded {customers} customers in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // Tickets and their threads.
    let gen = Generator {
        args: &args,
        now,
        start,
        customers,
        first_customer_id,
        departments: &departments,
        dept_staff: &dept_staff,
        staff: &staff,
        blobs: &blobs,
    };
    let mut bufs = Buffers::default();
    let tickets_started = Instant::now();
    db.begin()?;
    for i in 0..args.tickets {
        gen.ticket(&mut db, &mut rng, &mut bufs, i)?;
        if (i + 1) % args.batch.max(1) == 0 {
            db.commit()?;
            db.begin()?;
        }
        if (i + 1) % 100_000 == 0 {
            let secs = tickets_started.elapsed().as_secs_f64();
            eprintln!(
                "seeded {} tickets ({:.0}/s, {} entries so far)",
                i + 1,
                (i + 1) as f64 / secs,
                bufs.entries
            );
        }
    }
    db.commit()?;
    eprintln!(
        "seeded {} tickets with {} entries in {:.1}s",
        args.tickets,
        bufs.entries,
        tickets_started.elapsed().as_secs_f64()
    );
    db.finish(|step| eprintln!("{step}…"))?;
    println!(
        "Seeded {} tickets, {} thread entries, {} customers, {} staff, {} departments into {} in {:.1}s.",
        args.tickets,
        bufs.entries,
        customers,
        staff.len(),
        departments.len(),
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Default)]
struct Buffers {
    body: String,
    html: String,
    plan: Vec<(&'static str, i64)>,
    entries: u64,
}

struct Generator<'a> {
    args: &'a SeedArgs,
    now: i64,
    start: i64,
    customers: u64,
    first_customer_id: i64,
    departments: &'a [(i64, i64)],
    dept_staff: &'a [Vec<usize>],
    staff: &'a [StaffMember],
    blobs: &'a [(i64, &'static str, &'static str, i64)],
}

impl Generator<'_> {
    /// Ticket number `i`: an 8-digit permutation of the index, unique for
    /// every index below 90,000,000 (48271 is coprime with 90,000,000) and
    /// never colliding with the default 6-digit numbers.
    fn number(&self, i: u64) -> String {
        let offset = self.args.seed % 90_000_000;
        format!("{}", 10_000_000 + (i * 48_271 + offset) % 90_000_000)
    }

    fn ticket(
        &self,
        db: &mut Seeder,
        rng: &mut StdRng,
        bufs: &mut Buffers,
        i: u64,
    ) -> anyhow::Result<()> {
        let n = self.args.tickets;
        let span = self.now - self.start;
        let slot = span / n as i64;
        let created = self.start + (i as i64 * span) / n as i64 + rng.gen_range(0..slot.max(1));
        let age = self.now - created;

        // A few customers write often; most write once or twice.
        let cust_idx = if rng.gen_bool(0.3) {
            rng.gen_range(0..(self.customers / 20).max(1))
        } else {
            rng.gen_range(0..self.customers)
        };
        let customer_id = self.first_customer_id + cust_idx as i64;
        let person = synth::customer(self.args.seed, cust_idx);
        let email = &person.emails[rng.gen_range(0..person.emails.len())];
        let site = synth::site(rng);
        let subject = synth::subject(rng, person.lang, &site);

        let status = pick_status(rng, age);
        let priority_id = match rng.gen_range(0..100) {
            0..=19 => 1,
            20..=79 => 2,
            80..=94 => 3,
            _ => 4,
        };
        let source = match rng.gen_range(0..100) {
            0..=74 => Source::Email,
            75..=89 => Source::Web,
            90..=94 => Source::Phone,
            _ => Source::Api,
        };
        let dept = rng.gen_range(0..self.departments.len());
        let (department_id, topic_id) = self.departments[dept];
        let help_topic_id = (source != Source::Email && rng.gen_bool(0.7)).then_some(topic_id);
        let unassigned = if status.is_done() { 0.05 } else { 0.3 };
        let assignee = if rng.gen_bool(unassigned) || self.dept_staff[dept].is_empty() {
            None
        } else {
            let pool = &self.dept_staff[dept];
            Some(pool[rng.gen_range(0..pool.len())])
        };

        // Plan the thread: kinds and times.
        let mean = self.args.messages_per_ticket;
        let count = 1 + (rng.gen::<f64>() * 2.0 * (mean - 1.0)).round() as usize;
        bufs.plan.clear();
        let mut t = created;
        let mut prev = "message";
        for k in 0..count {
            let kind = if k == 0 {
                "message"
            } else {
                match (prev, rng.gen_range(0..100)) {
                    ("message", 0..=79) => "response",
                    ("message", _) => "note",
                    ("response", 0..=84) => "message",
                    ("response", _) => "note",
                    _ => "response",
                }
            };
            if k > 0 {
                t = (t + rng.gen_range(300..2 * DAY)).min(self.now - 60);
            }
            bufs.plan.push((kind, t));
            prev = kind;
        }
        // Keep the status consistent with the thread's last word.
        match status {
            Status::Open => {
                if let Some(last) = bufs.plan.last_mut() {
                    last.0 = "message";
                }
            }
            Status::Answered => {
                let t = bufs.plan.last().map_or(created, |l| l.1);
                if bufs.plan.last().is_some_and(|l| l.0 != "response") {
                    bufs.plan.push(("response", (t + 3600).min(self.now - 30)));
                }
            }
            _ => {}
        }
        let last_at = |kind: &str| bufs.plan.iter().rev().find(|p| p.0 == kind).map(|p| p.1);
        let last_message_at = last_at("message");
        let last_response_at = last_at("response");
        let first_response_at = bufs.plan.iter().find(|p| p.0 == "response").map(|p| p.1);
        let thread_end = bufs.plan.last().map_or(created, |p| p.1);
        let closed_at = status
            .is_done()
            .then(|| (thread_end + rng.gen_range(60..DAY)).min(self.now));
        let due_at = if status.is_done() {
            rng.gen_bool(0.2)
                .then(|| created + rng.gen_range(DAY..7 * DAY))
        } else {
            rng.gen_bool(0.5)
                .then(|| created + rng.gen_range(4 * 3600..10 * DAY))
        };
        let is_overdue = !status.is_done() && due_at.is_some_and(|d| d < self.now);
        let updated_at = closed_at.unwrap_or(thread_end).max(thread_end);
        let number = self.number(i);
        let ticket_id = db.ticket(&NewTicket {
            number: &number,
            subject: &subject,
            status: status.as_str(),
            priority_id,
            department_id,
            help_topic_id,
            assignee_id: assignee.map(|s| self.staff[s].id),
            customer_id,
            source: source.as_str(),
            is_overdue,
            created_at: created,
            updated_at,
            last_message_at,
            last_response_at,
            first_response_at,
            due_at,
            closed_at,
        })?;

        let mut first_entry = 0;
        let mut prev_mid: Option<String> = None;
        for k in 0..bufs.plan.len() {
            let (kind, at) = bufs.plan[k];
            let responder = assignee.unwrap_or_else(|| {
                let pool = &self.dept_staff[dept];
                if pool.is_empty() {
                    rng.gen_range(0..self.staff.len())
                } else {
                    pool[rng.gen_range(0..pool.len())]
                }
            });
            let (voice, staff_id, cust, author, author_email, mid) = match kind {
                "message" => {
                    let by_mail = source == Source::Email || k > 0;
                    let mid = by_mail.then(|| {
                        let domain = email.rsplit('@').next().unwrap_or("mail.example");
                        // Time first, as many mailers do: it also keeps
                        // the Message-ID index growing at its end.
                        format!("{at:x}.{:08x}.{k}@{domain}", rng.gen::<u32>())
                    });
                    let who = (person.name.as_str(), Some(email.as_str()));
                    (
                        Voice::Customer(person.lang),
                        None,
                        Some(customer_id),
                        who.0,
                        who.1,
                        mid,
                    )
                }
                "response" => {
                    let s = &self.staff[responder];
                    let mid = Some(format!(
                        "{at:x}.{number}.{k}.{:08x}@helpdesk.example",
                        rng.gen::<u32>()
                    ));
                    (
                        Voice::Staff(person.lang),
                        Some(s.id),
                        None,
                        s.name.as_str(),
                        None,
                        mid,
                    )
                }
                _ => {
                    let s = &self.staff[responder];
                    (Voice::Note, Some(s.id), None, s.name.as_str(), None, None)
                }
            };
            synth::body(&mut bufs.body, rng, voice, &site, author);
            let with_html = match kind {
                "message" => mid.is_some() && rng.gen_bool(0.3),
                "response" => true,
                _ => false,
            };
            if with_html {
                synth::html_of(&bufs.body, &mut bufs.html);
            }
            let entry_id = db.entry(&NewEntry {
                ticket_id,
                kind,
                staff_id,
                customer_id: cust,
                author_name: author,
                author_email,
                body_text: &bufs.body,
                body_html: with_html.then_some(bufs.html.as_str()),
                message_id: mid.as_deref(),
                in_reply_to: if kind == "note" {
                    None
                } else {
                    prev_mid.as_deref()
                },
                created_at: at,
            })?;
            bufs.entries += 1;
            if k == 0 {
                first_entry = entry_id;
            }
            let attach = match kind {
                "message" => 0.04,
                "response" => 0.01,
                _ => 0.0,
            };
            if attach > 0.0 && rng.gen_bool(attach) {
                let (blob_id, filename, mime, size) =
                    self.blobs[rng.gen_range(0..self.blobs.len())];
                db.attachment(&NewAttachment {
                    entry_id,
                    blob_id,
                    filename,
                    mime_type: mime,
                    size,
                    created_at: at,
                })?;
            }
            if mid.is_some() {
                prev_mid = mid;
            }
        }

        // Event history: opened, assigned, and closed or resolved.
        let tid = TicketId(ticket_id);
        let opener = Actor::Customer {
            id: CustomerId(customer_id),
            name: person.name.clone(),
        };
        record(
            db,
            &opener,
            &TicketEvent::Created {
                ticket: tid,
                entry: EntryId(first_entry),
                source,
                suppress_auto_response: false,
            },
            created,
        )?;
        if let Some(s) = assignee {
            let event = TicketEvent::Assigned {
                ticket: tid,
                from: None,
                to: Some(StaffId(self.staff[s].id)),
            };
            record(db, &Actor::System, &event, created + 30)?;
        }
        if let Some(at) = closed_at {
            let s = &self.staff[assignee.unwrap_or(0)];
            let actor = Actor::Staff {
                id: StaffId(s.id),
                name: s.name.clone(),
            };
            let event = TicketEvent::StatusChanged {
                ticket: tid,
                from: Status::Open,
                to: status,
            };
            record(db, &actor, &event, at)?;
        }
        Ok(())
    }
}

fn record(db: &mut Seeder, actor: &Actor, event: &TicketEvent, at: i64) -> anyhow::Result<()> {
    let (staff_id, customer_id) = match actor {
        Actor::Staff { id, .. } => (Some(id.0), None),
        Actor::Customer { id, .. } => (None, Some(id.0)),
        Actor::System => (None, None),
    };
    let data = serde_json::to_string(event).context("serialising a seeded event")?;
    db.event(
        event.ticket().0,
        staff_id,
        customer_id,
        actor.display_name(),
        event.kind(),
        &data,
        at,
    )?;
    Ok(())
}

/// Old tickets are mostly done; the last month holds most of the open work.
fn pick_status(rng: &mut StdRng, age: i64) -> Status {
    let roll = rng.gen_range(0..100);
    if age < 30 * DAY {
        match roll {
            0..=34 => Status::Open,
            35..=54 => Status::Answered,
            55..=64 => Status::Pending,
            65..=79 => Status::Resolved,
            _ => Status::Closed,
        }
    } else {
        match roll {
            0..=1 => Status::Open,
            2..=3 => Status::Answered,
            4 => Status::Pending,
            5..=24 => Status::Resolved,
            _ => Status::Closed,
        }
    }
}
