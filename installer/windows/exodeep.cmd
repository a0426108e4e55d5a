@echo off
rem The exodeep command (on PATH when the setup was asked to): the console ExoDeep, whose output shows here.
"%~dp0..\exodeep-cli.exe" %*
