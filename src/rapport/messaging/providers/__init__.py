"""The push providers rapport sends through: FCM, APNs, a signed webhook and a log."""
