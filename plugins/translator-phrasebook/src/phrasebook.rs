//! The built-in phrasebook: one table of rows `English | Spanish | French |
//! German`, from which the en->es, en->fr and en->de dictionaries are read
//! column against column, and es->en by reading the Spanish column backwards.
//!
//! The table is data: everyday speech and the vocabulary of ads. Verbs are
//! given as infinitives (the instruction form of all three target languages:
//! "Pedir hoy", "Commander aujourd'hui", "Heute bestellen"). Spanish addresses
//! the listener with "tú", French with "vous", German with "du", as consumer
//! ads in those languages usually do. An empty cell means "no good one-word
//! equivalent": the word passes through and is reported as untranslated
//! rather than mistranslated. "may" and "march" are left out on purpose: as
//! words in running text they are far more often the verbs than the months.

use std::sync::LazyLock;

use crate::dictionary::Dictionary;

/// The language pairs the phrasebook covers, as (source, target).
pub const PAIRS: [(&str, &str); 4] = [("en", "es"), ("en", "fr"), ("en", "de"), ("es", "en")];

/// The column of each language in [`TABLE`].
const COLUMNS: [&str; 4] = ["en", "es", "fr", "de"];

/// The dictionary for `source -> target`, or `None` when the pair is not in
/// [`PAIRS`]. An error means the built-in table is broken, which is a bug.
pub fn dictionary(source: &str, target: &str) -> Option<Result<&'static Dictionary, String>> {
    let index = PAIRS.iter().position(|&pair| pair == (source, target))?;
    Some(match &*DICTIONARIES {
        Ok(dictionaries) => Ok(&dictionaries[index]),
        Err(why) => Err(why.clone()),
    })
}

/// The dictionaries of [`PAIRS`], in the same order, parsed on first use.
static DICTIONARIES: LazyLock<Result<Vec<Dictionary>, String>> = LazyLock::new(|| {
    PAIRS
        .iter()
        .map(|&(source, target)| build(source, target))
        .collect()
});

/// Builds the dictionary for one pair of [`PAIRS`].
fn build(source: &str, target: &str) -> Result<Dictionary, String> {
    let column = |language: &str| {
        COLUMNS
            .iter()
            .position(|&c| c == language)
            .ok_or_else(|| format!("the phrasebook has no `{language}` column"))
    };
    let (from, to) = (column(source)?, column(target)?);
    // Explicit extras come first so that they win over the reversed table,
    // where several English words share one Spanish word ("mañana").
    let mut dictionary = if (source, target) == ("es", "en") {
        Dictionary::from_entries(ES_EN_EXTRAS).map_err(|why| format!("es->en extras: {why}"))?
    } else {
        Dictionary::default()
    };
    for row in rows()? {
        let (source_term, target_term) = (row[from], row[to]);
        if source_term.is_empty() || target_term.is_empty() {
            continue;
        }
        // First row wins: rows are ordered so the most common sense comes first.
        dictionary
            .insert_if_absent(source_term, target_term)
            .map_err(|why| format!("phrasebook row `{}`: {why}", row.join(" | ")))?;
    }
    Ok(dictionary)
}

/// The rows of [`TABLE`], each with one trimmed cell per language.
fn rows() -> Result<Vec<[&'static str; 4]>, String> {
    TABLE
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            <[&str; 4]>::try_from(cells).map_err(|cells| {
                format!(
                    "phrasebook row `{line}` has {} cells, expected 4",
                    cells.len()
                )
            })
        })
        .collect()
}

/// Spanish-to-English entries the reversed table gets wrong or lacks:
/// gendered and plural forms, conjugated verbs, and words whose most common
/// English sense is not the first row that uses them.
const ES_EN_EXTRAS: &str = "
el = the; la = the; los = the; las = the; una = a; unos = some; unas = some
del = of the; al = to the; de = of; en = in; que = that; te = you; su = their
esta = this; esto = this; estas = these; esas = those
buena = good; buenas = good; buenos = good; mala = bad; malos = bad; malas = bad
nueva = new; nuevos = new; nuevas = new; mejores = best; gratis = free; gratuita = free; gratuito = free
fría = cold; fresca = fresh; deliciosa = delicious; pequeña = small; hermosa = beautiful
roja = red; amarilla = yellow; blanca = white; negra = black; morada = purple
nuestra = our; nuestros = our; nuestras = our; mis = my; tus = your
es = is; está = is; están = are; son = are; soy = I am; estoy = I am; eres = you are
estás = you are; somos = we are; tengo = I have; tiene = has; tienes = you have
tenemos = we have; quiero = I want; necesito = I need; hay = there is; puedes = you can
mañana = tomorrow; la mañana = the morning; por la mañana = in the morning
tarde = afternoon; la tarde = the afternoon; por la tarde = in the afternoon
noche = night; por la noche = at night; pedido = order; no = no
";

/// The phrasebook: `English | Spanish | French | German`, one term per cell.
/// English cells are written as they would appear mid-sentence ("Monday",
/// "I"), since they are also the targets of es->en.
const TABLE: &str = "
# Greetings and courtesies
good morning | buenos días | bonjour | guten Morgen
good afternoon | buenas tardes | bon après-midi | guten Tag
good evening | buenas noches | bonsoir | guten Abend
good night | buenas noches | bonne nuit | gute Nacht
hello | hola | bonjour | hallo
hi | hola | salut | hallo
goodbye | adiós | au revoir | auf Wiedersehen
bye | adiós | salut | tschüss
see you soon | hasta pronto | à bientôt | bis bald
see you later | hasta luego | à plus tard | bis später
see you tomorrow | hasta mañana | à demain | bis morgen
thank you very much | muchas gracias | merci beaucoup | vielen Dank
thank you for watching | gracias por ver | merci d'avoir regardé | danke fürs Zuschauen
thank you for | gracias por | merci pour | danke für
thank you | gracias | merci | danke
thanks a lot | muchas gracias | merci beaucoup | vielen Dank
thanks | gracias | merci | danke
no thanks | no, gracias | non merci | nein danke
please | por favor | s'il vous plaît | bitte
you're welcome | de nada | de rien | gern geschehen
excuse me | disculpa | excusez-moi | Entschuldigung
I'm sorry | lo siento | je suis désolé | es tut mir leid
sorry | perdón | pardon | Entschuldigung
welcome | bienvenido | bienvenue | willkommen
welcome home | bienvenido a casa | bienvenue à la maison | willkommen zu Hause
how are you | cómo estás | comment allez-vous | wie geht es dir
I'm fine | estoy bien | je vais bien | mir geht es gut
nice to meet you | mucho gusto | enchanté | freut mich
my name is | me llamo | je m'appelle | ich heiße
of course | por supuesto | bien sûr | natürlich
no problem | no hay problema | pas de problème | kein Problem
good luck | buena suerte | bonne chance | viel Glück
well done | bien hecho | bien joué | gut gemacht
good job | buen trabajo | bon travail | gute Arbeit
happy birthday | feliz cumpleaños | joyeux anniversaire | alles Gute zum Geburtstag
merry Christmas | feliz Navidad | joyeux Noël | frohe Weihnachten
happy new year | feliz año nuevo | bonne année | frohes neues Jahr
have a nice day | que tengas un buen día | bonne journée | schönen Tag noch
let's go | vamos | allons-y | los geht's
I love you | te quiero | je t'aime | ich liebe dich
I don't know | no sé | je ne sais pas | ich weiß nicht
I don't understand | no entiendo | je ne comprends pas | ich verstehe nicht
don't worry | no te preocupes | ne vous inquiétez pas | keine Sorge
don't miss | no te pierdas | ne manquez pas | verpasse nicht
how much is it | cuánto cuesta | combien ça coûte | wie viel kostet das
what time is it | qué hora es | quelle heure est-il | wie spät ist es
where is | dónde está | où est | wo ist

# Ads and calls to action
order now | pide ya | commandez maintenant | jetzt bestellen
buy now | compra ya | achetez maintenant | jetzt kaufen
shop now | compra ya | achetez maintenant | jetzt einkaufen
try it today | pruébalo hoy | essayez-le aujourd'hui | probier es heute
try it | pruébalo | essayez-le | probier es
sign up | regístrate | inscrivez-vous | melde dich an
join us | únete | rejoignez-nous | mach mit
call us | llámanos | appelez-nous | ruf uns an
contact us | contáctanos | contactez-nous | kontaktiere uns
learn more | más información | en savoir plus | mehr erfahren
find out more | descubre más | découvrez-en plus | mehr erfahren
start your day | empieza tu día | commencez votre journée | starte deinen Tag
your order | tu pedido | votre commande | deine Bestellung
first order | primer pedido | première commande | erste Bestellung
for free | gratis | gratuitement | kostenlos
free shipping | envío gratis | livraison gratuite | kostenloser Versand
free delivery | entrega gratuita | livraison gratuite | kostenlose Lieferung
free trial | prueba gratuita | essai gratuit | kostenlose Testversion
limited time | tiempo limitado | durée limitée | begrenzte Zeit
limited offer | oferta limitada | offre limitée | begrenztes Angebot
special offer | oferta especial | offre spéciale | Sonderangebot
best seller | el más vendido | meilleure vente | Bestseller
brand new | totalmente nuevo | tout nouveau | brandneu
on sale | en oferta | en promotion | im Angebot
made with love | hecho con amor | fait avec amour | mit Liebe gemacht
made in | hecho en | fabriqué en | hergestellt in
open now | abierto ahora | ouvert maintenant | jetzt geöffnet
we're open | estamos abiertos | nous sommes ouverts | wir haben geöffnet
the best | el mejor | le meilleur | das Beste
for you | para ti | pour vous | für dich
for everyone | para todos | pour tout le monde | für alle
with you | contigo | avec vous | mit dir
you'll love it | te encantará | vous allez l'adorer | du wirst es lieben
I love | me encanta | j'adore | ich liebe
we love | nos encanta | nous adorons | wir lieben
at home | en casa | à la maison | zu Hause

# Coffee and food
cold brew | café frío | café infusé à froid | Cold Brew
iced coffee | café helado | café glacé | Eiskaffee
coffee shop | cafetería | café | Café
a cup of coffee | una taza de café | une tasse de café | eine Tasse Kaffee
cup of coffee | taza de café | tasse de café | Tasse Kaffee
cups of coffee | tazas de café | tasses de café | Tassen Kaffee
cup of tea | taza de té | tasse de thé | Tasse Tee
ice cream | helado | glace | Eis
coffee | café | café | Kaffee
coffees | cafés | cafés | Kaffees
tea | té | thé | Tee
water | agua | eau | Wasser
milk | leche | lait | Milch
oat milk | leche de avena | lait d'avoine | Hafermilch
sugar | azúcar | sucre | Zucker
bread | pan | pain | Brot
breakfast | desayuno | petit-déjeuner | Frühstück
lunch | almuerzo | déjeuner | Mittagessen
dinner | cena | dîner | Abendessen
food | comida | nourriture | Essen
meal | comida | repas | Mahlzeit
fruit | fruta | fruit | Obst
apple | manzana | pomme | Apfel
chocolate | chocolate | chocolat | Schokolade
juice | zumo | jus | Saft
beer | cerveza | bière | Bier
wine | vino | vin | Wein
bottle | botella | bouteille | Flasche
bottles | botellas | bouteilles | Flaschen
cup | taza | tasse | Tasse
cups | tazas | tasses | Tassen
mug | taza | mug | Becher
glass | vaso | verre | Glas
beans | granos | grains | Bohnen
roast | tueste | torréfaction | Röstung
flavor | sabor | saveur | Geschmack
flavour | sabor | saveur | Geschmack
taste | sabor | goût | Geschmack
aroma | aroma | arôme | Aroma
recipe | receta | recette | Rezept
kitchen | cocina | cuisine | Küche
table | mesa | table | Tisch

# People, places and things
home | casa | maison | Zuhause
house | casa | maison | Haus
family | familia | famille | Familie
families | familias | familles | Familien
friend | amigo | ami | Freund
friends | amigos | amis | Freunde
mother | madre | mère | Mutter
father | padre | père | Vater
mom | mamá | maman | Mama
dad | papá | papa | Papa
child | niño | enfant | Kind
children | niños | enfants | Kinder
kids | niños | enfants | Kinder
baby | bebé | bébé | Baby
man | hombre | homme | Mann
woman | mujer | femme | Frau
people | gente | gens | Leute
person | persona | personne | Person
team | equipo | équipe | Team
customer | cliente | client | Kunde
customers | clientes | clients | Kunden
work | trabajo | travail | Arbeit
job | empleo | emploi | Job
office | oficina | bureau | Büro
school | escuela | école | Schule
city | ciudad | ville | Stadt
world | mundo | monde | Welt
life | vida | vie | Leben
love | amor | amour | Liebe
heart | corazón | cœur | Herz
body | cuerpo | corps | Körper
health | salud | santé | Gesundheit
energy | energía | énergie | Energie
car | coche | voiture | Auto
street | calle | rue | Straße
shop | tienda | boutique | Laden
store | tienda | magasin | Geschäft
price | precio | prix | Preis
prices | precios | prix | Preise
money | dinero | argent | Geld
gift | regalo | cadeau | Geschenk
offer | oferta | offre | Angebot
sale | rebajas | soldes | Ausverkauf
discount | descuento | réduction | Rabatt
delivery | entrega | livraison | Lieferung
shipping | envío | livraison | Versand
product | producto | produit | Produkt
products | productos | produits | Produkte
quality | calidad | qualité | Qualität
brand | marca | marque | Marke
service | servicio | service | Service
subscription | suscripción | abonnement | Abo
app | aplicación | application | App
phone | teléfono | téléphone | Telefon
website | sitio web | site web | Website
online | en línea | en ligne | online
news | noticias | nouvelles | Nachrichten
music | música | musique | Musik
movie | película | film | Film
game | juego | jeu | Spiel
book | libro | livre | Buch
photo | foto | photo | Foto
idea | idea | idée | Idee
question | pregunta | question | Frage
answer | respuesta | réponse | Antwort
help | ayuda | aide | Hilfe
problem | problema | problème | Problem
way | camino | chemin | Weg
moment | momento | moment | Moment
name | nombre | nom | Name
size | tamaño | taille | Größe
choice | elección | choix | Wahl
style | estilo | style | Stil
design | diseño | design | Design
story | historia | histoire | Geschichte
place | lugar | endroit | Ort
room | habitación | chambre | Zimmer
door | puerta | porte | Tür
garden | jardín | jardin | Garten
trip | viaje | voyage | Reise
holiday | vacaciones | vacances | Urlaub
party | fiesta | fête | Party
birthday | cumpleaños | anniversaire | Geburtstag
smile | sonrisa | sourire | Lächeln
sun | sol | soleil | Sonne
rain | lluvia | pluie | Regen
weather | tiempo | temps | Wetter
dog | perro | chien | Hund
cat | gato | chat | Katze

# Time
today | hoy | aujourd'hui | heute
tomorrow | mañana | demain | morgen
yesterday | ayer | hier | gestern
tonight | esta noche | ce soir | heute Abend
this morning | esta mañana | ce matin | heute Morgen
every morning | cada mañana | chaque matin | jeden Morgen
every day | cada día | chaque jour | jeden Tag
every time | cada vez | chaque fois | jedes Mal
all day | todo el día | toute la journée | den ganzen Tag
this week | esta semana | cette semaine | diese Woche
next week | la próxima semana | la semaine prochaine | nächste Woche
right now | ahora mismo | tout de suite | sofort
now | ahora | maintenant | jetzt
morning | mañana | matin | Morgen
mornings | mañanas | matins | Morgen
afternoon | tarde | après-midi | Nachmittag
evening | tarde | soir | Abend
night | noche | nuit | Nacht
day | día | jour | Tag
days | días | jours | Tage
week | semana | semaine | Woche
weeks | semanas | semaines | Wochen
weekend | fin de semana | week-end | Wochenende
month | mes | mois | Monat
months | meses | mois | Monate
year | año | an | Jahr
years | años | ans | Jahre
hour | hora | heure | Stunde
hours | horas | heures | Stunden
minute | minuto | minute | Minute
minutes | minutos | minutes | Minuten
time | tiempo | temps | Zeit
always | siempre | toujours | immer
never | nunca | jamais | nie
sometimes | a veces | parfois | manchmal
often | a menudo | souvent | oft
soon | pronto | bientôt | bald
again | otra vez | encore | wieder
later | más tarde | plus tard | später
early | temprano | tôt | früh
late | tarde | tard | spät
Monday | lunes | lundi | Montag
Tuesday | martes | mardi | Dienstag
Wednesday | miércoles | mercredi | Mittwoch
Thursday | jueves | jeudi | Donnerstag
Friday | viernes | vendredi | Freitag
Saturday | sábado | samedi | Samstag
Sunday | domingo | dimanche | Sonntag
January | enero | janvier | Januar
February | febrero | février | Februar
April | abril | avril | April
June | junio | juin | Juni
July | julio | juillet | Juli
August | agosto | août | August
September | septiembre | septembre | September
October | octubre | octobre | Oktober
November | noviembre | novembre | November
December | diciembre | décembre | Dezember
spring | primavera | printemps | Frühling
summer | verano | été | Sommer
autumn | otoño | automne | Herbst
winter | invierno | hiver | Winter

# Numbers
zero | cero | zéro | null
one | uno | un | eins
two | dos | deux | zwei
three | tres | trois | drei
four | cuatro | quatre | vier
five | cinco | cinq | fünf
six | seis | six | sechs
seven | siete | sept | sieben
eight | ocho | huit | acht
nine | nueve | neuf | neun
ten | diez | dix | zehn
eleven | once | onze | elf
twelve | doce | douze | zwölf
thirteen | trece | treize | dreizehn
fourteen | catorce | quatorze | vierzehn
fifteen | quince | quinze | fünfzehn
sixteen | dieciséis | seize | sechzehn
seventeen | diecisiete | dix-sept | siebzehn
eighteen | dieciocho | dix-huit | achtzehn
nineteen | diecinueve | dix-neuf | neunzehn
twenty | veinte | vingt | zwanzig
thirty | treinta | trente | dreißig
forty | cuarenta | quarante | vierzig
fifty | cincuenta | cinquante | fünfzig
sixty | sesenta | soixante | sechzig
seventy | setenta | soixante-dix | siebzig
eighty | ochenta | quatre-vingts | achtzig
ninety | noventa | quatre-vingt-dix | neunzig
one hundred | cien | cent | hundert
hundred | cien | cent | hundert
thousand | mil | mille | tausend
million | millón | million | Million
first | primero | premier | erste
second | segundo | deuxième | zweite
third | tercero | troisième | dritte
last | último | dernier | letzte
half | medio | demi | halb

# Colours
red | rojo | rouge | rot
blue | azul | bleu | blau
green | verde | vert | grün
yellow | amarillo | jaune | gelb
orange | naranja | orange | orange
purple | morado | violet | lila
pink | rosa | rose | rosa
black | negro | noir | schwarz
white | blanco | blanc | weiß
grey | gris | gris | grau
gray | gris | gris | grau
brown | marrón | marron | braun
golden | dorado | doré | golden
silver | plateado | argenté | silbern
colour | color | couleur | Farbe
color | color | couleur | Farbe
colours | colores | couleurs | Farben
colors | colores | couleurs | Farben

# Verbs (infinitives) and short verb phrases
I am | soy | je suis | ich bin
you are | eres | vous êtes | du bist
we are | somos | nous sommes | wir sind
they are | son | ils sont | sie sind
it is | es | c'est | es ist
it's | es | c'est | es ist
there is | hay | il y a | es gibt
there are | hay | il y a | es gibt
I have | tengo | j'ai | ich habe
you have | tienes | vous avez | du hast
we have | tenemos | nous avons | wir haben
I want | quiero | je veux | ich will
I need | necesito | j'ai besoin de | ich brauche
I like | me gusta | j'aime | ich mag
you can | puedes | vous pouvez | du kannst
we can | podemos | nous pouvons | wir können
wake up | despertar | se réveiller | aufwachen
is | es | est | ist
are | son | sont | sind
was | era | était | war
has | tiene | a | hat
be | ser | être | sein
have | tener | avoir | haben
do | hacer | faire | tun
make | hacer | faire | machen
go | ir | aller | gehen
come | venir | venir | kommen
get | conseguir | obtenir | bekommen
give | dar | donner | geben
take | tomar | prendre | nehmen
see | ver | voir | sehen
look | mirar | regarder | schauen
watch | ver | regarder | ansehen
know | saber | savoir | wissen
think | pensar | penser | denken
want | querer | vouloir | wollen
need | necesitar | avoir besoin de | brauchen
like | gustar | aimer | mögen
enjoy | disfrutar | profiter | genießen
try | probar | essayer | probieren
buy | comprar | acheter | kaufen
order | pedir | commander | bestellen
pay | pagar | payer | bezahlen
save | ahorrar | économiser | sparen
start | empezar | commencer | starten
stop | parar | arrêter | stoppen
open | abrir | ouvrir | öffnen
close | cerrar | fermer | schließen
eat | comer | manger | essen
drink | beber | boire | trinken
cook | cocinar | cuisiner | kochen
sleep | dormir | dormir | schlafen
play | jugar | jouer | spielen
run | correr | courir | laufen
walk | caminar | marcher | gehen
read | leer | lire | lesen
write | escribir | écrire | schreiben
speak | hablar | parler | sprechen
talk | hablar | parler | reden
say | decir | dire | sagen
tell | contar | raconter | erzählen
ask | preguntar | demander | fragen
call | llamar | appeler | anrufen
visit | visitar | visiter | besuchen
find | encontrar | trouver | finden
discover | descubrir | découvrir | entdecken
choose | elegir | choisir | wählen
share | compartir | partager | teilen
feel | sentir | sentir | fühlen
live | vivir | vivre | leben
learn | aprender | apprendre | lernen
grow | crecer | grandir | wachsen
build | construir | construire | bauen
create | crear | créer | erschaffen
change | cambiar | changer | ändern
bring | traer | apporter | bringen
send | enviar | envoyer | senden
wait | esperar | attendre | warten
stay | quedarse | rester | bleiben
keep | guardar | garder | behalten
use | usar | utiliser | benutzen
miss | perder | manquer | verpassen
join | unirse | rejoindre | beitreten
laugh | reír | rire | lachen
can | poder | pouvoir | können
don't | no | | nicht

# Adjectives and adverbs
good | bueno | bon | gut
bad | malo | mauvais | schlecht
great | genial | génial | großartig
best | mejor | meilleur | beste
better | mejor | meilleur | besser
new | nuevo | nouveau | neu
old | viejo | vieux | alt
free | gratis | gratuit | kostenlos
fresh | fresco | frais | frisch
hot | caliente | chaud | heiß
cold | frío | froid | kalt
warm | cálido | chaud | warm
big | grande | grand | groß
large | grande | grand | groß
small | pequeño | petit | klein
little | pequeño | petit | klein
long | largo | long | lang
short | corto | court | kurz
fast | rápido | rapide | schnell
quick | rápido | rapide | schnell
slow | lento | lent | langsam
easy | fácil | facile | einfach
simple | sencillo | simple | einfach
hard | difícil | difficile | schwer
happy | feliz | heureux | glücklich
sad | triste | triste | traurig
beautiful | hermoso | beau | schön
nice | agradable | agréable | schön
delicious | delicioso | délicieux | lecker
perfect | perfecto | parfait | perfekt
natural | natural | naturel | natürlich
organic | orgánico | bio | biologisch
healthy | saludable | sain | gesund
strong | fuerte | fort | stark
smooth | suave | doux | sanft
sweet | dulce | sucré | süß
rich | rico | riche | reich
real | real | vrai | echt
true | verdadero | vrai | wahr
favorite | favorito | préféré | liebste
favourite | favorito | préféré | liebste
ready | listo | prêt | bereit
full | lleno | plein | voll
empty | vacío | vide | leer
clean | limpio | propre | sauber
safe | seguro | sûr | sicher
local | local | local | lokal
daily | diario | quotidien | täglich
special | especial | spécial | besonders
exclusive | exclusivo | exclusif | exklusiv
premium | premium | haut de gamme | hochwertig
amazing | increíble | incroyable | erstaunlich
incredible | increíble | incroyable | unglaublich
important | importante | important | wichtig
possible | posible | possible | möglich
available | disponible | disponible | verfügbar
right | correcto | juste | richtig
wrong | incorrecto | faux | falsch
light | ligero | léger | leicht
dark | oscuro | sombre | dunkel
bright | brillante | lumineux | hell
quiet | tranquilo | calme | ruhig
busy | ocupado | occupé | beschäftigt
tired | cansado | fatigué | müde
hungry | hambriento | affamé | hungrig
well | bien | bien | gut
really | realmente | vraiment | wirklich
very | muy | très | sehr
more | más | plus | mehr
less | menos | moins | weniger
so | tan | si | so
too | también | aussi | auch
also | también | aussi | auch
only | solo | seulement | nur
just | solo | juste | nur
together | juntos | ensemble | zusammen
a lot | mucho | beaucoup | viel
a little | un poco | un peu | ein bisschen
how much | cuánto | combien | wie viel
more than | más que | plus que | mehr als

# Pronouns, articles and other small words
I | yo | je | ich
you | tú | vous | du
he | él | il | er
she | ella | elle | sie
it | lo | le | es
we | nosotros | nous | wir
they | ellos | ils | sie
me | me | moi | mich
us | nos | nous | uns
my | mi | mon | mein
your | tu | votre | dein
our | nuestro | notre | unser
their | su | leur | ihr
his | su | son | sein
her | su | sa | ihr
this | este | ce | dies
that | eso | cela | das
these | estos | ces | diese
those | esos | ces | jene
the | el | le | der
a | un | un | ein
an | un | un | ein
and | y | et | und
or | o | ou | oder
but | pero | mais | aber
with | con | avec | mit
without | sin | sans | ohne
for | para | pour | für
from | de | de | von
to | a | à | zu
of | de | de | von
in | en | dans | in
on | en | sur | auf
at | en | à | bei
by | por | par | von
about | sobre | sur | über
under | debajo | sous | unter
before | antes | avant | vor
after | después | après | nach
here | aquí | ici | hier
there | allí | là | dort
where | dónde | où | wo
when | cuándo | quand | wann
what | qué | quoi | was
who | quién | qui | wer
why | por qué | pourquoi | warum
how | cómo | comment | wie
which | cuál | quel | welche
yes | sí | oui | ja
no | no | non | nein
not | no | pas | nicht
all | todo | tout | alle
every | cada | chaque | jeder
some | algunos | quelques | einige
many | muchos | beaucoup de | viele
much | mucho | beaucoup | viel
other | otro | autre | andere
same | mismo | même | gleich
if | si | si | wenn
because | porque | parce que | weil
than | que | que | als
then | entonces | alors | dann
still | todavía | encore | noch
already | ya | déjà | schon
everyone | todos | tout le monde | alle
everybody | todos | tout le monde | alle
everything | todo | tout | alles
nothing | nada | rien | nichts
something | algo | quelque chose | etwas
someone | alguien | quelqu'un | jemand
";

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_pair_builds_with_hundreds_of_entries() {
        for (source, target) in PAIRS {
            let dictionary = dictionary(source, target)
                .expect("a listed pair")
                .expect("the built-in table parses");
            assert!(
                dictionary.len() >= 300,
                "{source}->{target}: {}",
                dictionary.len()
            );
            assert!(dictionary.max_words() >= 4);
        }
        assert!(dictionary("fr", "en").is_none());
    }

    #[test]
    fn english_terms_are_unique() {
        let mut seen = HashSet::new();
        for row in rows().expect("rows parse") {
            let key = row[0].to_lowercase();
            assert!(seen.insert(key), "duplicate English term `{}`", row[0]);
        }
    }

    #[test]
    fn spanish_reads_back_to_the_most_common_sense() {
        let es_en = dictionary("es", "en").expect("listed").expect("parses");
        assert_eq!(
            es_en.get("mañana").map(|e| e.target.as_str()),
            Some("tomorrow")
        );
        assert_eq!(
            es_en.get("buenos días").map(|e| e.target.as_str()),
            Some("good morning")
        );
        assert_eq!(
            es_en.get("gracias").map(|e| e.target.as_str()),
            Some("thank you")
        );
        assert_eq!(
            es_en.get("lunes").map(|e| e.target.as_str()),
            Some("Monday")
        );
        assert_eq!(es_en.get("la").map(|e| e.target.as_str()), Some("the"));
    }
}
