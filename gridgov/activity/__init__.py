"""What members and units actually do: check-ins (fence, flags, decisions), the hours ledger,
practice-site activities, accounts (报账), demands (要账), key tasks and the scorecard."""
