"""What partner systems use to talk to apn: a Python client for REST v1, a DAK uploader, a simulator."""
