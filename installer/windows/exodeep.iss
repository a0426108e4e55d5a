; Inno Setup script: wraps the PyInstaller one-folder bundle (build\installer\dist\ExoDeep: the windowed
; ExoDeep.exe, the console exodeep-cli.exe, _internal\, licenses\) into
; build\installer\ExoDeep-<version>-windows-setup.exe:
;   iscc /DAppVersion=0.1.0 installer\windows\exodeep.iss
; It installs for the current user or for all users (a dialog asks; /CURRENTUSER or /ALLUSERS), adds a
; Start-menu entry with the app's icon, offers ExoDeep in "Open with" for .tif, .tiff and .nd2 files
; (it does not take over their default program), and, unless unticked, puts the `exodeep` command
; (bin\exodeep.cmd → exodeep-cli.exe) on the user's PATH. The uninstaller removes all of it.
; Nothing is code-signed: Windows SmartScreen warns before the first start (README "The installer").
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#define Dist "..\..\build\installer\dist\ExoDeep"

[Setup]
AppId={{6B8F5C2E-1C5E-4C7B-9E2A-0E0DEE900001}
AppName=ExoDeep
AppVersion={#AppVersion}
AppPublisher=ExoDeep developers
AppComments=Find exocytosis events in TIRF microscopy movies
DefaultDirName={autopf}\ExoDeep
DefaultGroupName=ExoDeep
DisableProgramGroupPage=yes
LicenseFile=..\..\LICENSE
SetupIconFile=..\..\resources\icons\exodeep.ico
UninstallDisplayIcon={app}\ExoDeep.exe
OutputDir=..\..\build\installer
OutputBaseFilename=ExoDeep-{#AppVersion}-windows-setup
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog commandline
ChangesAssociations=yes
ChangesEnvironment=yes

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked
Name: "addtopath"; Description: "Add the exodeep command (exodeep detect ..., exodeep --help) to PATH"

[Files]
; the whole bundle: ExoDeep.exe, exodeep-cli.exe, _internal\ (with resources\icons), licenses\
Source: "{#Dist}\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion
Source: "..\..\LICENSE"; DestDir: "{app}"; DestName: "LICENSE.txt"; Flags: ignoreversion
Source: "..\..\resources\icons\exodeep.ico"; DestDir: "{app}"; Flags: ignoreversion
Source: "exodeep.cmd"; DestDir: "{app}\bin"; Flags: ignoreversion

[Icons]
Name: "{group}\ExoDeep"; Filename: "{app}\ExoDeep.exe"; IconFilename: "{app}\exodeep.ico"; Comment: "Find exocytosis events in TIRF microscopy movies"
Name: "{group}\ExoDeep licences"; Filename: "{app}\licenses"
Name: "{autodesktop}\ExoDeep"; Filename: "{app}\ExoDeep.exe"; IconFilename: "{app}\exodeep.ico"; Tasks: desktopicon

[Registry]
; "Open with ExoDeep" for .tif, .tiff and .nd2 (HKA: the current user's or all users' classes, as installed)
Root: HKA; Subkey: "Software\Classes\ExoDeep.movie"; ValueType: string; ValueName: ""; ValueData: "Microscopy movie (ExoDeep)"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\ExoDeep.movie\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\exodeep.ico"
Root: HKA; Subkey: "Software\Classes\ExoDeep.movie\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\ExoDeep.exe"" ""%1"""
Root: HKA; Subkey: "Software\Classes\.tif\OpenWithProgids"; ValueType: string; ValueName: "ExoDeep.movie"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.tiff\OpenWithProgids"; ValueType: string; ValueName: "ExoDeep.movie"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.nd2\OpenWithProgids"; ValueType: string; ValueName: "ExoDeep.movie"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\Applications\ExoDeep.exe"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "ExoDeep"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\ExoDeep.exe\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\ExoDeep.exe"" ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\ExoDeep.exe\SupportedTypes"; ValueType: string; ValueName: ".tif"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\ExoDeep.exe\SupportedTypes"; ValueType: string; ValueName: ".tiff"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\ExoDeep.exe\SupportedTypes"; ValueType: string; ValueName: ".nd2"; ValueData: ""
; the exodeep command: {app}\bin on the user's PATH (removed again by the uninstaller, [Code] below)
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}\bin"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}\bin'))

[Run]
Filename: "{app}\ExoDeep.exe"; Description: "Start ExoDeep"; Flags: nowait postinstall skipifsilent

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Path: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Path) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';') = 0;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  Path, Dir: string;
  P: Integer;
begin
  if CurUninstallStep <> usPostUninstall then
    exit;
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Path) then
    exit;
  Dir := ExpandConstant('{app}\bin');
  P := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';');
  if P = 0 then
    exit;
  { P is 1-based in ';' + Path + ';': the folder starts at P in Path, the ';' before it at P - 1 }
  if P > 1 then
    Delete(Path, P - 1, Length(Dir) + 1)
  else
    Delete(Path, 1, Length(Dir) + 1);
  RegWriteExpandStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Path);
end;
