"""In-process fakes of cloud services that speak the real wire protocols."""
