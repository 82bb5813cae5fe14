//! The WHMCS API calls the panel needs. WHMCS answers JSON in which numbers
//! are often strings and empty lists are sometimes `""`, so fields are read
//! leniently from `serde_json::Value`.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

pub struct Api {
    endpoint: String,
    identifier: String,
    secret: String,
    accesskey: String,
    agent: ureq::Agent,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Client {
    pub id: i64,
    pub name: String,
    pub company: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub name: String,
    pub domain: String,
    pub status: String,
    pub next_due: String,
    pub billing_cycle: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Domain {
    pub name: String,
    pub status: String,
    pub expires: String,
    pub next_due: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unpaid {
    pub count: usize,
    /// Sum of the unpaid balances, in cents.
    pub total_cents: i64,
    pub currency_prefix: String,
    pub currency_suffix: String,
}

/// What the panel shows about one customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub client: Client,
    pub services: Vec<Service>,
    pub domains: Vec<Domain>,
    pub unpaid: Unpaid,
}

/// Services and domains in these states are history, not worth a line.
const INACTIVE: [&str; 5] = [
    "cancelled",
    "terminated",
    "fraud",
    "transferred away",
    "expired",
];

impl Api {
    pub fn new(
        url: &str,
        identifier: &str,
        secret: &str,
        accesskey: &str,
        timeout: Duration,
    ) -> Api {
        Api {
            endpoint: format!("{}/includes/api.php", url.trim_end_matches('/')),
            identifier: identifier.into(),
            secret: secret.into(),
            accesskey: accesskey.into(),
            agent: ureq::AgentBuilder::new()
                .timeout_connect(timeout)
                .timeout(timeout)
                .user_agent(concat!("oxidesk-hosting/", env!("CARGO_PKG_VERSION")))
                .build(),
        }
    }

    /// The customer's account, None when no client has this email.
    pub fn summary(&self, email: &str) -> Result<Option<Summary>, String> {
        let details = match self.call("GetClientsDetails", &[("email", email)]) {
            Ok(d) => d,
            Err(CallError::Api(message)) if message.to_lowercase().contains("not found") => {
                return Ok(None)
            }
            Err(e) => return Err(e.to_string()),
        };
        let client = client_from(&details).ok_or("the client record has no id")?;
        let id = client.id.to_string();
        // The three lists at once: a slow billing system costs one
        // round trip after the client lookup, not three.
        let (products, domains, invoices) = std::thread::scope(|scope| {
            let products = scope.spawn(|| {
                self.call(
                    "GetClientsProducts",
                    &[("clientid", &id), ("limitnum", "250")],
                )
            });
            let domains = scope.spawn(|| {
                self.call(
                    "GetClientsDomains",
                    &[("clientid", &id), ("limitnum", "250")],
                )
            });
            let invoices = self.call(
                "GetInvoices",
                &[("userid", &id), ("status", "Unpaid"), ("limitnum", "250")],
            );
            let join = |h: std::thread::ScopedJoinHandle<'_, Result<Value, CallError>>| {
                h.join()
                    .unwrap_or_else(|_| Err(CallError::Http("a lookup thread failed".into())))
            };
            (join(products), join(domains), invoices)
        });
        let products = products.map_err(|e| e.to_string())?;
        let domains = domains.map_err(|e| e.to_string())?;
        let invoices = invoices.map_err(|e| e.to_string())?;
        Ok(Some(Summary {
            client,
            services: services_from(&products),
            domains: domains_from(&domains),
            unpaid: unpaid_from(&invoices),
        }))
    }

    fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<Value, CallError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("action", action),
            ("identifier", &self.identifier),
            ("secret", &self.secret),
            ("responsetype", "json"),
        ];
        if !self.accesskey.is_empty() {
            form.push(("accesskey", &self.accesskey));
        }
        form.extend_from_slice(params);
        let response = self.agent.post(&self.endpoint).send_form(&form);
        let body = match response {
            Ok(r) => r.into_string(),
            // WHMCS reports some errors with a 4xx/5xx and a JSON body.
            Err(ureq::Error::Status(code, r)) => match r.into_string() {
                Ok(text) if text.trim_start().starts_with('{') => Ok(text),
                _ => return Err(CallError::Http(format!("{action}: HTTP {code}"))),
            },
            Err(ureq::Error::Transport(t)) => {
                return Err(CallError::Http(format!(
                    "cannot reach the billing system ({})",
                    t.kind()
                )))
            }
        }
        .map_err(|e| CallError::Http(format!("{action}: reading the answer: {e}")))?;
        let value: Value = serde_json::from_str(&body)
            .map_err(|_| CallError::Http(format!("{action}: the answer is not JSON")))?;
        if text(&value["result"]).eq_ignore_ascii_case("success") {
            Ok(value)
        } else {
            let message = text(&value["message"]);
            Err(CallError::Api(if message.is_empty() {
                format!("{action} failed")
            } else {
                message
            }))
        }
    }
}

enum CallError {
    Http(String),
    Api(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Http(m) => f.write_str(m),
            CallError::Api(m) => write!(f, "the billing system said: {m}"),
        }
    }
}

/// A JSON scalar as text ("" for null, objects and arrays).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// `{"products": {"product": [..]}}`: the list, whatever WHMCS put there.
fn list<'a>(v: &'a Value, outer: &str, inner: &str) -> Vec<&'a Value> {
    match &v[outer][inner] {
        Value::Array(items) => items.iter().collect(),
        item @ Value::Object(_) => vec![item],
        _ => Vec::new(),
    }
}

fn active(status: &str) -> bool {
    !INACTIVE.contains(&status.to_lowercase().as_str())
}

fn client_from(v: &Value) -> Option<Client> {
    // Newer WHMCS nests the record under "client"; older ones are flat.
    let c = if v["client"].is_object() {
        &v["client"]
    } else {
        v
    };
    let id = [&c["id"], &c["userid"], &v["userid"], &v["client_id"]]
        .into_iter()
        .find_map(|x| text(x).parse::<i64>().ok())?;
    let name = format!("{} {}", text(&c["firstname"]), text(&c["lastname"]));
    Some(Client {
        id,
        name: name.trim().to_string(),
        company: text(&c["companyname"]),
        status: text(&c["status"]),
    })
}

fn services_from(v: &Value) -> Vec<Service> {
    list(v, "products", "product")
        .into_iter()
        .map(|p| Service {
            name: [&p["translated_name"], &p["name"], &p["groupname"]]
                .into_iter()
                .map(text)
                .find(|s| !s.is_empty())
                .unwrap_or_default(),
            domain: text(&p["domain"]),
            status: text(&p["status"]),
            next_due: date(&p["nextduedate"]),
            billing_cycle: text(&p["billingcycle"]),
        })
        .filter(|s| active(&s.status))
        .collect()
}

fn domains_from(v: &Value) -> Vec<Domain> {
    list(v, "domains", "domain")
        .into_iter()
        .map(|d| Domain {
            name: text(&d["domainname"]),
            status: text(&d["status"]),
            expires: date(&d["expirydate"]),
            next_due: date(&d["nextduedate"]),
        })
        .filter(|d| active(&d.status))
        .collect()
}

fn unpaid_from(v: &Value) -> Unpaid {
    let invoices = list(v, "invoices", "invoice");
    let mut total_cents = 0;
    let (mut prefix, mut suffix) = (String::new(), String::new());
    for inv in &invoices {
        // "balance" is what is still owed after part payments.
        let amount = [&inv["balance"], &inv["total"]]
            .into_iter()
            .map(text)
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        total_cents += cents(&amount);
        if prefix.is_empty() && suffix.is_empty() {
            // Untrimmed: WHMCS suffixes often start with a space (" USD").
            prefix = inv["currencyprefix"].as_str().unwrap_or("").to_string();
            suffix = inv["currencysuffix"].as_str().unwrap_or("").to_string();
        }
    }
    Unpaid {
        count: invoices.len(),
        total_cents,
        currency_prefix: prefix,
        currency_suffix: suffix,
    }
}

/// "12.50" → 1250, without floating-point drift.
fn cents(amount: &str) -> i64 {
    let amount = amount.replace(',', "");
    let (neg, amount) = match amount.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, amount),
    };
    let (whole, frac) = amount.split_once('.').unwrap_or((&amount, ""));
    let whole: i64 = whole.parse().unwrap_or(0);
    let frac: String = frac.chars().chain("00".chars()).take(2).collect();
    let value = whole
        .saturating_mul(100)
        .saturating_add(frac.parse().unwrap_or(0));
    if neg {
        -value
    } else {
        value
    }
}

/// WHMCS writes "0000-00-00" for no date.
fn date(v: &Value) -> String {
    let s = text(v);
    if s.starts_with("0000") {
        String::new()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_documented_shapes() {
        let details = json!({"result": "success", "userid": 12, "client": {
            "id": 12, "firstname": "Ann", "lastname": "Lee", "companyname": "", "status": "Active"}});
        let client = client_from(&details).unwrap();
        assert_eq!((client.id, client.name.as_str()), (12, "Ann Lee"));
        let flat = json!({"result": "success", "userid": "7", "firstname": "Bo"});
        assert_eq!(client_from(&flat).unwrap().id, 7);

        let products = json!({"result": "success", "products": {"product": [
            {"id": "1", "name": "Starter", "domain": "a.example", "status": "Active",
             "nextduedate": "2026-12-01", "billingcycle": "Monthly"},
            {"id": "2", "name": "Old", "status": "Terminated", "nextduedate": "0000-00-00"}
        ]}});
        let services = services_from(&products);
        assert_eq!(services.len(), 1);
        assert_eq!(services[0].next_due, "2026-12-01");
        assert!(services_from(&json!({"result": "success", "products": ""})).is_empty());

        let invoices = json!({"result": "success", "invoices": {"invoice": [
            {"id": "5", "total": "10.00", "balance": "7.50", "currencyprefix": "$"},
            {"id": "6", "total": "2.5", "currencyprefix": "$"}
        ]}});
        let unpaid = unpaid_from(&invoices);
        assert_eq!((unpaid.count, unpaid.total_cents), (2, 1000));
    }

    #[test]
    fn cents_parse_exactly() {
        assert_eq!(cents("1,234.56"), 123456);
        assert_eq!(cents("0.1"), 10);
        assert_eq!(cents("-3"), -300);
        assert_eq!(cents("junk"), 0);
    }
}
