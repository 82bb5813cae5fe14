//! Synthetic helpdesk text: names, addresses, subjects and message bodies in
//! English with some Persian, Arabic and Amharic, drawn from small phrase
//! banks with a seeded RNG so a given seed always yields the same data.
//! Customers are derived from their index alone, so none are held in memory.

use std::fmt::Write;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    English,
    Persian,
    Arabic,
    Amharic,
}

impl Lang {
    /// Mostly English, as on a typical hosting firm's desk.
    pub fn pick(rng: &mut StdRng) -> Lang {
        match rng.gen_range(0..100) {
            0..=79 => Lang::English,
            80..=87 => Lang::Persian,
            88..=94 => Lang::Arabic,
            _ => Lang::Amharic,
        }
    }
}

const EN_FIRST: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Chris",
    "Nancy",
    "Daniel",
    "Lisa",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Zoë",
    "José",
    "Björn",
    "Małgorzata",
    "Jürgen",
    "Chloé",
];
const EN_LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Müller",
    "Nowak",
    "Øster",
    "Fernández",
];
const FA_NAMES: &[(&str, &str)] = &[
    ("علی رضایی", "ali.rezaei"),
    ("مریم احمدی", "maryam.ahmadi"),
    ("سارا محمدی", "sara.mohammadi"),
    ("رضا کریمی", "reza.karimi"),
    ("نیلوفر حسینی", "niloufar.hosseini"),
    ("امیر جعفری", "amir.jafari"),
    ("زهرا موسوی", "zahra.mousavi"),
    ("حسین نوری", "hossein.nouri"),
];
const AR_NAMES: &[(&str, &str)] = &[
    ("محمد العلي", "mohammed.alali"),
    ("فاطمة الزهراء", "fatima.zahra"),
    ("أحمد حسن", "ahmed.hassan"),
    ("ليلى خالد", "layla.khaled"),
    ("يوسف إبراهيم", "youssef.ibrahim"),
    ("نور الهدى", "nour.alhuda"),
    ("عمر الفاروق", "omar.farouk"),
    ("سلمى منصور", "salma.mansour"),
];
const AM_NAMES: &[(&str, &str)] = &[
    ("አበበ ቢቂላ", "abebe.bikila"),
    ("ሰላም ተስፋዬ", "selam.tesfaye"),
    ("ዮሐንስ ገብሩ", "yohannes.gebru"),
    ("መሰረት ደፋር", "meseret.defar"),
    ("ሄኖክ ታደሰ", "henok.tadesse"),
    ("ቤተልሔም አለሙ", "bethlehem.alemu"),
];
const MAIL_DOMAINS: &[&str] = &[
    "gmail.example",
    "outlook.example",
    "yahoo.example",
    "mail.example.ir",
    "example.sa",
    "ethionet.example",
    "webmail.example.de",
    "company.example.com",
    "shop.example.net",
];
const SITE_WORDS: &[&str] = &[
    "shop", "blog", "studio", "clinic", "garden", "travel", "media", "bakery", "consult", "design",
    "market", "school", "photo", "auto", "legal", "dental", "coffee", "books",
];
const TLDS: &[&str] = &["com", "net", "org", "ir", "sa", "et", "de", "co.uk", "io"];

/// A customer's display name and one or two addresses, from its index.
pub struct Person {
    pub name: String,
    pub emails: Vec<String>,
    pub lang: Lang,
}

/// The customer with index `idx` (0-based) under `seed`.
pub fn customer(seed: u64, idx: u64) -> Person {
    let mut rng = StdRng::seed_from_u64(seed ^ idx.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let lang = Lang::pick(&mut rng);
    let (name, local) = person_name(&mut rng, lang);
    let d1 = MAIL_DOMAINS[rng.gen_range(0..MAIL_DOMAINS.len())];
    let mut emails = vec![format!("{local}.{idx}@{d1}")];
    if rng.gen_bool(0.3) {
        let d2 = MAIL_DOMAINS[rng.gen_range(0..MAIL_DOMAINS.len())];
        emails.push(format!("{local}{}.{idx}@work.{d2}", rng.gen_range(1..99)));
    }
    Person { name, emails, lang }
}

/// A display name and an ASCII local part for it.
pub fn person_name(rng: &mut StdRng, lang: Lang) -> (String, String) {
    let pick = |rng: &mut StdRng, list: &[(&str, &str)]| {
        let (n, l) = list[rng.gen_range(0..list.len())];
        (n.to_string(), l.to_string())
    };
    match lang {
        Lang::English => {
            let f = EN_FIRST[rng.gen_range(0..EN_FIRST.len())];
            let l = EN_LAST[rng.gen_range(0..EN_LAST.len())];
            let local = format!("{f}.{l}")
                .to_lowercase()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' {
                        c
                    } else {
                        'x'
                    }
                })
                .collect();
            (format!("{f} {l}"), local)
        }
        Lang::Persian => pick(rng, FA_NAMES),
        Lang::Arabic => pick(rng, AR_NAMES),
        Lang::Amharic => pick(rng, AM_NAMES),
    }
}

/// A customer's website, for subjects and bodies.
pub fn site(rng: &mut StdRng) -> String {
    format!(
        "{}{}.{}",
        SITE_WORDS[rng.gen_range(0..SITE_WORDS.len())],
        rng.gen_range(1..5000),
        TLDS[rng.gen_range(0..TLDS.len())]
    )
}

const EN_SUBJECTS: &[&str] = &[
    "Cannot send email from {site}",
    "Website {site} is down",
    "Invoice {num} question",
    "SSL certificate renewal for {site}",
    "Password reset mail never arrives",
    "Upgrade to a bigger VPS plan",
    "DNS records for {site}",
    "Please restore yesterday's backup of {site}",
    "Refund request for order {num}",
    "WordPress very slow since the update",
    "Mailbox full on {site}",
    "Spam coming from my account?",
    "Transfer domain {site} to you",
    "Error 500 on checkout page",
    "Cron job not running",
    "FTP login fails with 530",
    "Database connection error on {site}",
    "Need more disk space",
    "Re: Your hosting renews soon",
    "Fwd: Payment failed for invoice {num}",
    "Can't log in to the control panel",
    "Migrating {site} from another host",
    "PHP version change request",
    "Emails going to junk folder",
];
const FA_SUBJECTS: &[&str] = &[
    "مشکل در ارسال ایمیل از {site}",
    "سایت من بالا نمی‌آید",
    "درخواست بازگردانی نسخه پشتیبان",
    "سؤال درباره فاکتور {num}",
    "تمدید گواهی SSL برای {site}",
];
const AR_SUBJECTS: &[&str] = &[
    "لا أستطيع الدخول إلى لوحة التحكم",
    "مشكلة في البريد الإلكتروني على {site}",
    "طلب استرداد للطلب رقم {num}",
    "الموقع بطيء جداً",
    "تجديد النطاق {site}",
];
const AM_SUBJECTS: &[&str] = &[
    "ኢሜይል መላክ አልቻልኩም",
    "ድረ-ገጼ {site} አይከፈትም",
    "ስለ ደረሰኝ {num} ጥያቄ",
    "የይለፍ ቃል መቀየር እፈልጋለሁ",
];

const EN_SENTENCES: &[&str] = &[
    "Hello, I hope you are well.",
    "Since this morning {site} shows a blank page and my customers cannot order.",
    "I tried clearing the cache and restarting the browser but nothing changed.",
    "The error message says: connection timed out after 30 seconds ({code}).",
    "Could you please check the mail server logs for my domain?",
    "My invoice {num} was charged twice on my credit card.",
    "We moved the DNS to your nameservers three days ago.",
    "The SSL certificate expired and visitors now see a warning.",
    "I attached a screenshot of what I see in the control panel.",
    "Our newsletter goes out every Monday and bounces started last week.",
    "Please upgrade my plan, we need at least 20 GB of storage.",
    "Is there a way to schedule backups every night instead of weekly?",
    "The IP address {ip} seems to be blocked by your firewall.",
    "I cannot connect with FTP, it says 530 login incorrect.",
    "WordPress shows 'Error establishing a database connection'.",
    "After the PHP upgrade some plugins stopped working.",
    "Thank you for the quick answer, it works again now.",
    "Unfortunately the problem is back since yesterday evening.",
    "Can you tell me when the maintenance window ends?",
    "Our office in the city cannot reach the webmail at all.",
    "I would like to transfer {site} to another registrar.",
    "The cron job at 03:00 did not run, the log is empty.",
    "Mails from our contact form land in the spam folder of Gmail.",
    "Please cancel the renewal of the old domain, we do not need it.",
    "Our developer needs SSH access to deploy the new version.",
    "The disk usage graph shows 98% although we deleted old files.",
    "I forgot the password of the admin mailbox, can you reset it?",
    "Kind regards and thanks in advance.",
    "Best wishes from the whole team.",
];
const STAFF_SENTENCES: &[&str] = &[
    "Thank you for contacting us.",
    "I have checked the server and the service is running normally again.",
    "The mail queue for your domain was stuck; I flushed it and mails are going out now.",
    "I renewed the certificate for {site}; it may take a few minutes to show up.",
    "Your backup from last night has been restored to the staging folder.",
    "We refunded the duplicate charge for invoice {num}; it will appear in 3–5 business days.",
    "Please clear your DNS cache and try again; the records now point to {ip}.",
    "Your IP address was blocked after too many failed logins; I removed the block.",
    "The plan upgrade is done and the new limits apply immediately.",
    "Could you send us the full error message and the time it happened?",
    "I am closing this ticket now; reply to this mail if anything else comes up.",
    "Please try again and let us know if the problem persists.",
];
const NOTE_SENTENCES: &[&str] = &[
    "Customer called, confirmed the issue is on server web{n}.",
    "Checked logs: repeated auth failures from {ip}.",
    "Escalated to the network team, waiting for their answer.",
    "Refund approved by billing, see invoice {num}.",
    "Known issue after the PHP upgrade, see the internal wiki.",
];
const FA_SENTENCES: &[&str] = &[
    "سلام، وقت بخیر.",
    "از امروز صبح سایت {site} باز نمی‌شود و مشتریان نمی‌توانند خرید کنند.",
    "ایمیل‌های ما به پوشه هرزنامه می‌روند.",
    "لطفاً وضعیت سرور را بررسی کنید.",
    "فاکتور شماره {num} دو بار از کارت من کسر شده است.",
    "با تشکر از پاسخ سریع شما.",
];
const AR_SENTENCES: &[&str] = &[
    "السلام عليكم ورحمة الله.",
    "موقعي {site} لا يعمل منذ الصباح.",
    "لا تصل رسائل البريد الإلكتروني إلى العملاء.",
    "أرجو التحقق من إعدادات النطاق في أقرب وقت.",
    "تم خصم الفاتورة رقم {num} مرتين.",
    "شكراً جزيلاً على المساعدة.",
];
const AM_SENTENCES: &[&str] = &[
    "ሰላም፣ እንደምን አላችሁ።",
    "ድረ-ገጼ {site} ከዛሬ ጠዋት ጀምሮ አይሰራም።",
    "ኢሜይሎቻችን ወደ ደንበኞች አይደርሱም።",
    "እባካችሁ አገልጋዩን ፈትሹልኝ።",
    "ለፈጣን ምላሻችሁ እናመሰግናለን።",
];

/// Fill `{site}`, `{num}`, `{ip}`, `{code}`, `{n}` placeholders into `out`.
fn fill(out: &mut String, template: &str, rng: &mut StdRng, site: &str) {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return;
        };
        match &rest[start + 1..start + len] {
            "site" => out.push_str(site),
            "num" => {
                let _ = write!(out, "INV-{}", rng.gen_range(10_000..999_999));
            }
            "ip" => {
                let _ = write!(
                    out,
                    "203.0.{}.{}",
                    rng.gen_range(0..255),
                    rng.gen_range(1..255)
                );
            }
            "code" => {
                let _ = write!(out, "ERR-{:04X}", rng.gen_range(0..0xFFFF));
            }
            "n" => {
                let _ = write!(out, "{}", rng.gen_range(1..64));
            }
            other => {
                out.push('{');
                out.push_str(other);
                out.push('}');
            }
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
}

pub fn subject(rng: &mut StdRng, lang: Lang, site: &str) -> String {
    let bank = match lang {
        Lang::English => EN_SUBJECTS,
        Lang::Persian => FA_SUBJECTS,
        Lang::Arabic => AR_SUBJECTS,
        Lang::Amharic => AM_SUBJECTS,
    };
    let mut out = String::with_capacity(64);
    fill(&mut out, bank[rng.gen_range(0..bank.len())], rng, site);
    out
}

/// Who writes an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    Customer(Lang),
    Staff(Lang),
    Note,
}

/// How many sentences: mostly short mails, some medium, a few long ones.
fn sentence_count(rng: &mut StdRng) -> usize {
    match rng.gen_range(0..100) {
        0..=59 => rng.gen_range(1..=4),
        60..=91 => rng.gen_range(5..=12),
        _ => rng.gen_range(15..=45),
    }
}

/// A message body into `out` (cleared first).
pub fn body(out: &mut String, rng: &mut StdRng, voice: Voice, site: &str, signer: &str) {
    out.clear();
    let bank = match voice {
        Voice::Customer(Lang::English) => EN_SENTENCES,
        Voice::Customer(Lang::Persian) => FA_SENTENCES,
        Voice::Customer(Lang::Arabic) => AR_SENTENCES,
        Voice::Customer(Lang::Amharic) => AM_SENTENCES,
        Voice::Staff(_) => STAFF_SENTENCES,
        Voice::Note => NOTE_SENTENCES,
    };
    let n = match voice {
        Voice::Note => rng.gen_range(1..=2),
        _ => sentence_count(rng),
    };
    for i in 0..n {
        if i > 0 {
            out.push(if rng.gen_bool(0.2) { '\n' } else { ' ' });
            if rng.gen_bool(0.1) {
                out.push('\n');
            }
        }
        fill(out, bank[rng.gen_range(0..bank.len())], rng, site);
    }
    // A staff answer to a non-English customer sometimes carries a line in
    // the customer's language too.
    if let Voice::Staff(l) = voice {
        if l != Lang::English && rng.gen_bool(0.5) {
            let local = match l {
                Lang::Persian => FA_SENTENCES,
                Lang::Arabic => AR_SENTENCES,
                _ => AM_SENTENCES,
            };
            out.push_str("\n\n");
            fill(out, local[rng.gen_range(0..local.len())], rng, site);
        }
    }
    if voice != Voice::Note {
        out.push_str("\n\n-- \n");
        out.push_str(signer);
    }
}

/// The body as simple HTML, as a sanitiser would have kept it.
pub fn html_of(text: &str, out: &mut String) {
    out.clear();
    out.push_str("<div dir=\"auto\">");
    for para in text.split("\n\n") {
        out.push_str("<p>");
        for (i, line) in para.lines().enumerate() {
            if i > 0 {
                out.push_str("<br>");
            }
            for c in line.chars() {
                match c {
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '&' => out.push_str("&amp;"),
                    '"' => out.push_str("&quot;"),
                    c => out.push(c),
                }
            }
        }
        out.push_str("</p>");
    }
    out.push_str("</div>");
}

/// Attachment kinds: file name and MIME type.
pub const ATTACHMENT_KINDS: &[(&str, &str)] = &[
    ("screenshot.png", "image/png"),
    ("invoice.pdf", "application/pdf"),
    ("error.log", "text/plain"),
    ("photo.jpg", "image/jpeg"),
    ("رسید پرداخت.pdf", "application/pdf"),
    ("صورة الشاشة.png", "image/png"),
    ("ደረሰኝ.pdf", "application/pdf"),
    ("export.csv", "text/csv"),
];

/// Content for one of `count` distinct attachment blobs: a plausible header
/// for its type, then seeded filler.
pub fn blob_content(seed: u64, idx: usize, mime: &str) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(idx as u64 * 7919));
    let size = match rng.gen_range(0..10) {
        0..=6 => rng.gen_range(2_000..40_000),
        _ => rng.gen_range(40_000..300_000),
    };
    let mut data: Vec<u8> = match mime {
        "image/png" => b"\x89PNG\r\n\x1a\n".to_vec(),
        "image/jpeg" => b"\xff\xd8\xff\xe0".to_vec(),
        "application/pdf" => b"%PDF-1.4\n".to_vec(),
        _ => Vec::new(),
    };
    if mime.starts_with("text/") {
        while data.len() < size {
            let line = format!(
                "2024-05-{:02} 12:{:02}:{:02} mail{} postfix/smtp: status=deferred\n",
                rng.gen_range(1..29),
                rng.gen_range(0..60),
                rng.gen_range(0..60),
                rng.gen_range(1..9)
            );
            data.extend_from_slice(line.as_bytes());
        }
    } else {
        data.resize(size, 0);
        rng.fill(&mut data[16.min(size)..]);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_known_placeholders_only() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut out = String::new();
        fill(
            &mut out,
            "a {site} b {num} c {unknown} d {",
            &mut rng,
            "x.example",
        );
        assert!(out.starts_with("a x.example b INV-"), "{out}");
        assert!(out.ends_with(" c {unknown} d {"), "{out}");
    }

    #[test]
    fn customers_are_deterministic_and_unique_by_index() {
        let a = customer(42, 7);
        let b = customer(42, 7);
        assert_eq!(a.name, b.name);
        assert_eq!(a.emails, b.emails);
        let c = customer(42, 8);
        assert!(c.emails.iter().all(|e| !a.emails.contains(e)));
        assert!(a.emails.iter().all(|e| e.is_ascii() && e.contains('@')));
    }

    #[test]
    fn html_escapes_markup() {
        let mut out = String::new();
        html_of("a <b> & \"c\"\nline two\n\npara", &mut out);
        assert_eq!(
            out,
            "<div dir=\"auto\"><p>a &lt;b&gt; &amp; &quot;c&quot;<br>line two</p><p>para</p></div>"
        );
    }
}
