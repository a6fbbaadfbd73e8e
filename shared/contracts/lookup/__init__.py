"""References between services' records, checked with the owner through the gateway as the caller
(a case's project, an activity's volunteers, a session's attendees). Each owner's lookup route is
its own (services/*/api); the question, the answer and the client every service uses are here."""
