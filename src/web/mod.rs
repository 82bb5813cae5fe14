//! The web server (Rocket): staff UI, portal, admin area and API.
