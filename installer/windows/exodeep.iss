; Inno Setup script: wraps the PyInstaller one-folder bundle (build\installer\dist\ExoDeep) into
; ExoDeep-<version>-windows-setup.exe, with a Start-menu entry and "Open with ExoDeep" for TIFF files.
; iscc /DAppVersion=0.1.0 installer\windows\exodeep.iss
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif

[Setup]
AppId={{6B8F5C2E-1C5E-4C7B-9E2A-0E0DEE900001}
AppName=ExoDeep
AppVersion={#AppVersion}
AppPublisher=ExoDeep developers
DefaultDirName={autopf}\ExoDeep
DefaultGroupName=ExoDeep
LicenseFile=..\..\LICENSE
OutputDir=..\..\build\installer
OutputBaseFilename=ExoDeep-{#AppVersion}-windows-setup
Compression=lzma2/max
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
ChangesAssociations=yes

[Files]
Source: "..\..\build\installer\dist\ExoDeep\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\ExoDeep"; Filename: "{app}\ExoDeep.exe"
Name: "{autodesktop}\ExoDeep"; Filename: "{app}\ExoDeep.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Registry]
; "Open with ExoDeep" for .tif/.tiff (does not take over the default program)
Root: HKA; Subkey: "Software\Classes\Applications\ExoDeep.exe\shell\open\command"; ValueType: string; ValueData: """{app}\ExoDeep.exe"" ""%1"""; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\.tif\OpenWithProgids"; ValueType: string; ValueName: "ExoDeep.tiff"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.tiff\OpenWithProgids"; ValueType: string; ValueName: "ExoDeep.tiff"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\ExoDeep.tiff"; ValueType: string; ValueData: "TIFF movie (ExoDeep)"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\ExoDeep.tiff\shell\open\command"; ValueType: string; ValueData: """{app}\ExoDeep.exe"" ""%1"""

[Run]
Filename: "{app}\ExoDeep.exe"; Description: "Start ExoDeep"; Flags: nowait postinstall skipifsilent
